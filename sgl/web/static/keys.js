// Keyboard steps: a key press follows the link on the page that names that key in its
// data-key attribute (every step is a plain link too, so nothing needs this script).
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
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
