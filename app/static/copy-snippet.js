// Copy buttons of the schema page's migration snippets (a file: the CSP allows no
// inline handlers).
document.querySelectorAll(".copy-snippet").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.target).textContent;
    navigator.clipboard.writeText(text).then(
      function () { button.textContent = "Copied"; },
      function () { button.textContent = "Select and copy"; }
    );
  });
});
