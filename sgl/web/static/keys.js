// Keyboard steps: a key press follows the link on the page that names that key in its
// data-key attribute (every step is a plain link too, so nothing needs this script). The
// shortcuts are single characters, so a button turns them off (WCAG 2.1.4), remembered by
// this browser.
(function () {
  var STORE = "sgl-key-shortcuts";
  function enabled() {
    try { return window.localStorage.getItem(STORE) !== "off"; } catch (e) { return true; }
  }
  function show(button) {
    var on = enabled();
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Key shortcuts: on" : "Key shortcuts: off";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button.key-shortcuts");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.hidden = false;
      show(button);
      button.addEventListener("click", function (event) {
        try { window.localStorage.setItem(STORE, enabled() ? "off" : "on"); } catch (e) { return; }
        show(event.currentTarget);
      });
    }
  });
  document.addEventListener("keydown", function (event) {
    if (!enabled() || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName))) return;
    var links = document.querySelectorAll("a[data-key]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("data-key") === event.key) {
        event.preventDefault();
        links[i].click();
        return;
      }
    }
  });
})();
