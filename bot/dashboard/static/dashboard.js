// Tooltips for chart marks: each mark's <title> becomes a tooltip shown on hover and
// on keyboard focus (screen readers keep reading the mark's aria-label).
(function () {
  "use strict";
  function init() {
    var tip = document.querySelector(".tooltip");
    if (!tip) { return; }
    var marks = document.querySelectorAll("svg.chart .mark");
    function show(mark, x, y) {
      tip.textContent = mark.getAttribute("data-tip");
      tip.hidden = false;
      var width = tip.offsetWidth;
      var left = Math.min(x + 14, window.scrollX + document.documentElement.clientWidth - width - 8);
      tip.style.left = Math.max(8, left) + "px";
      tip.style.top = (y + 14) + "px";
      mark.classList.add("active");
    }
    function hide(mark) {
      tip.hidden = true;
      mark.classList.remove("active");
    }
    marks.forEach(function (mark) {
      var title = mark.querySelector("title");
      if (title) {
        mark.setAttribute("data-tip", title.textContent);
        title.remove();  // the native tooltip would show the same text twice
      }
      mark.addEventListener("mousemove", function (e) { show(mark, e.pageX, e.pageY); });
      mark.addEventListener("mouseleave", function () { hide(mark); });
      mark.addEventListener("focus", function () {
        var box = mark.getBoundingClientRect();
        show(mark, box.left + window.scrollX + box.width / 2, box.top + window.scrollY + box.height / 2);
      });
      mark.addEventListener("blur", function () { hide(mark); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
