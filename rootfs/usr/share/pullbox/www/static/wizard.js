/* Pullbox setup wizard: the only script. It adds "Copy" buttons to the
 * key and the code blocks; every form works without it. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
	document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
		var source = document.getElementById(button.getAttribute("data-copy"));
		if (!source || !navigator.clipboard)
			return;
		button.hidden = false;
		button.addEventListener("click", function () {
			navigator.clipboard.writeText(source.textContent).then(function () {
				button.textContent = "Copied";
				setTimeout(function () { button.textContent = "Copy"; }, 2000);
			}, function () {
				button.textContent = "Select and copy by hand";
			});
		});
	});
});
