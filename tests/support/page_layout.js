// Layout checks run in the page by the browser tests (tests/system/).

// Table cells holding a number ("1,234", "5 min 18 s", "12.5 ms", "$8.49", "1.50×")
// whose text takes more than one line.
function wrappedNumbers() {
  const sign = '[\\s\\d.,:%$+\\-−–×~≤≥<>µ()\\/]';
  const numeric = new RegExp('^' + sign + '*\\d(' + sign + '|[a-zA-Z])*$');
  const start = /^[\d$<>≤~+\-−(]/;
  const wrapped = [];
  for (const cell of document.querySelectorAll('td, th')) {
    const text = cell.innerText.trim();
    if (text.length > 24 || !numeric.test(text) || !start.test(text)) continue;
    if (cell.offsetParent === null) continue;  // hidden (a closed <details>)
    const range = document.createRange();
    range.selectNodeContents(cell);
    // Pieces in different fonts (a <code>) sit at different heights on one line;
    // on two lines, one piece lies wholly below another.
    const pieces = [...range.getClientRects()].filter(r => r.width > 0);
    if (pieces.some(a => pieces.some(b => b.top >= a.bottom - 1))) wrapped.push(text);
  }
  return wrapped;
}

// Pairs of chart labels (SVG text) whose boxes overlap by more than a pixel each way.
function overlappingLabels() {
  const overlaps = [];
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.getBoundingClientRect().width === 0) continue;
    const boxes = [...svg.querySelectorAll('text')]
      .filter(t => t.textContent.trim())
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && r.height > 0);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, ra] = boxes[i];
        const [b, rb] = boxes[j];
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 1 && h > 1) overlaps.push(a + ' / ' + b);
      }
    }
  }
  return overlaps;
}
