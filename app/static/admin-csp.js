// Flask-Admin's inline onclick handlers, moved here: the Content-Security-Policy
// allows scripts from this site (and nonce-tagged ones) only, no inline handlers.
document.addEventListener("click", function (event) {
  var action = event.target.closest("[data-stockroom-action]");
  if (action) {
    event.preventDefault();
    window.modelActions.execute(action.getAttribute("data-stockroom-action"));
    return;
  }
  var confirming = event.target.closest("[data-stockroom-confirm]");
  if (confirming && !window.confirm(confirming.getAttribute("data-stockroom-confirm"))) {
    event.preventDefault();
  }
});
