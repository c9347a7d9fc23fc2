"""JavaScript probes the browser tests evaluate in the page (Playwright ``page.evaluate``)."""

# Resolves after the browser has drawn two more frames: whatever was changed is on screen.
NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"

# Zooms (``"zoom"``) or pans (anything else) the graph once; resolves with the milliseconds
# until that change is drawn.
FRAME = """async (change) => {
  const cy = window.headwaterGraph;
  const t = performance.now();
  if (change === "zoom") cy.zoom({level: cy.zoom() * 1.15, renderedPosition: {x: 480, y: 360}});
  else cy.panBy({x: 45, y: 30});
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));  // drawn
  return performance.now() - t;
}"""
