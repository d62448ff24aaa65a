/* Runs in <head> before first paint: apply the saved theme and text size so pages never flash. */
(function () {
  "use strict";
  var root = document.documentElement;
  try {
    var theme = localStorage.getItem("cc.theme");
    if (theme === "light" || theme === "dark") root.setAttribute("data-theme", theme);
    var size = parseFloat(localStorage.getItem("cc.size"));
    if (size >= 0.75 && size <= 4) root.style.setProperty("--cap-size", size + "rem");
  } catch (e) { /* storage blocked (private mode): defaults apply */ }
})();
