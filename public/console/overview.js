// The overview's charts: the last hour per minute from series.json, drawn with uPlot (served by the gateway itself).
'use strict';
(function () {
  const COLORS = ['#3370ff', '#34a853', '#e54545', '#ff9900', '#7b61ff', '#00b2b2', '#8f959e', '#c2185b', '#795548', '#2e7d32'];
  const root = document.querySelector('[data-series]');
  if (!root) return;

  function chart(figure, minutes, lines, options) {
    figure.querySelectorAll('.uplot, .nodata').forEach((el) => el.remove());
    const names = Object.keys(lines);
    if (names.length === 0) {
      const empty = document.createElement('p');
      empty.className = 'nodata';
      empty.textContent = 'Nothing in the last hour.';
      figure.appendChild(empty);
    }
    const series = [{}].concat(names.map((name, i) => Object.assign({ label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false }, (options.styles || {})[name])));
    const width = Math.max(320, figure.clientWidth - 16);
    // eslint-disable-next-line no-undef
    new uPlot({ width, height: 200, series, scales: { x: { time: true } }, axes: [{}, { label: options.unit || '' }] }, [minutes].concat(names.map((n) => lines[n])), figure);
  }

  function draw(data) {
    const figures = Object.fromEntries([...root.querySelectorAll('[data-chart]')].map((f) => [f.dataset.chart, f]));
    chart(figures.messages, data.minutes, data.messages, { unit: 'messages' });
    chart(figures.errcodes, data.minutes, data.errcodes, { unit: 'calls' });
    chart(figures.queues, data.minutes, data.queues, { unit: 'jobs' });
    const window = data.minutes.map(() => data.welcome.windowSeconds);
    chart(figures.welcome, data.minutes, { p50: data.welcome.p50, p99: data.welcome.p99, [`${data.welcome.windowSeconds} s window`]: window }, { unit: 'seconds', styles: { [`${data.welcome.windowSeconds} s window`]: { stroke: '#e54545', dash: [6, 4], width: 1 } } });
    root.dataset.drawn = String(Date.now());
  }

  function load() {
    fetch(root.dataset.series, { credentials: 'same-origin' })
      .then((res) => (res.ok ? res.json() : Promise.reject(new Error(`series.json: ${res.status}`))))
      .then(draw)
      .catch((err) => { root.dataset.error = err.message; });
  }
  load();
  setInterval(load, 30000);
})();
