// Refreshes #live-content every data-refresh-seconds by fetching the page again
// and swapping that element, unless paused (the choice is kept per page).
(function () {
  var controls = document.getElementById("live-controls");
  var button = document.getElementById("live-pause");
  var state = document.getElementById("live-state");
  if (!controls || !button) return;
  var seconds = parseInt(controls.dataset.refreshSeconds, 10) || 5;
  var key = "stockroom-live-paused:" + location.pathname;
  var paused = sessionStorage.getItem(key) === "1";

  function show() {
    button.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "paused" : "";
  }

  function refresh() {
    if (paused) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live-content");
        var current = document.getElementById("live-content");
        if (fresh && current) current.replaceWith(fresh);
        state.textContent = "";
      })
      .catch(function () {
        state.textContent = "refresh failed; retrying";
      });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    sessionStorage.setItem(key, paused ? "1" : "0");
    show();
    if (!paused) refresh();
  });
  show();
  setInterval(refresh, seconds * 1000);
})();
