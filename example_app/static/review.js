// The review page's single-page section: the summary and the declaration are both in the page;
// links with data-section show one of them and record it in the address bar (history.pushState),
// and the browser's back and forward buttons bring the other back (popstate).
(function () {
  "use strict";

  function show(name) {
    document.querySelectorAll("section[data-journey-step]").forEach(function (section) {
      section.hidden = section.id !== name;
      if (section.id === name) document.title = section.dataset.title + " – Small Business Grant";
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-section]");
    if (!link) return;
    event.preventDefault();
    show(link.dataset.section);
    history.pushState({section: link.dataset.section}, "", link.href);
  });

  window.addEventListener("popstate", function () {
    show(/\/declaration$/.test(location.pathname) ? "declaration" : "review");
  });
})();
