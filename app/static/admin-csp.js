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

// Flask-Admin's menu and filter toggles are links to "javascript:void(0)"; following
// one is script the policy blocks (a console error per click). They only open
// dropdowns, which Bootstrap does on the click itself: a plain "#" does the same.
document.querySelectorAll('a[href^="javascript:"]').forEach(function (link) {
  link.setAttribute("href", "#");
});
