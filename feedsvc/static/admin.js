// The editors' pages: a form with data-confirm="question" asks before it is submitted.
// A file rather than onsubmit="…": the Content-Security-Policy allows scripts from this
// site only, never inline ones (feedsvc/web/headers.py).
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
