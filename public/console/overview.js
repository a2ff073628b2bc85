// The overview's charts: the last hour per minute from series.json, drawn with uPlot (served by the gateway itself).
'use strict';
(function () {
  const COLORS = ['#3370ff', '#34a853', '#e54545', '#ff9900', '#7b61ff', '#00b2b2', '#8f959e', '#c2185b', '#795548', '#2e7d32'];
  const root = document.querySelector('[data-series]');
  if (!root) return;
  const { t, timeZone } = window.consoleLocale;
  // uPlot reads times in the browser's zone and writes 12-hour ones for en-US: the console's one convention is 24-hour in ALERT_TIMEZONE.
  // eslint-disable-next-line no-undef
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), timeZone);
  /** `accepted · program.alert`: the kind in the page's language, the event as it is named. */
  const KINDS = ['accepted', 'sent', 'failed'];
  const labelOf = (name) => {
    const [kind, ...rest] = name.split(' · ');
    return KINDS.includes(kind) && rest.length > 0 ? [t(`js.${kind}`), ...rest].join(' · ') : name;
  };

  function chart(figure, minutes, lines, options) {
    if (figure.plot) figure.plot.destroy();
    figure.querySelectorAll('.nodata').forEach((el) => el.remove());
    const names = Object.keys(lines);
    if (names.length === 0) {
      const empty = document.createElement('p');
      empty.className = 'nodata';
      empty.textContent = t('js.nothing');
      figure.appendChild(empty);
    }
    const series = [{ label: t('js.time'), value: '{YYYY}-{MM}-{DD} {HH}:{mm}' }].concat(names.map((name, i) => Object.assign({ label: labelOf(name), stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false }, (options.styles || {})[name])));
    const width = Math.max(320, figure.clientWidth - 16);
    // Kept on the figure: the next load replaces it (and a test reads its axis).
    // eslint-disable-next-line no-undef
    figure.plot = new uPlot({ width, height: 200, tzDate, series, scales: { x: { time: true } }, axes: [{ values: '{HH}:{mm}' }, { label: options.unit || '' }] }, [minutes].concat(names.map((n) => lines[n])), figure);
  }

  function draw(data) {
    const figures = Object.fromEntries([...root.querySelectorAll('[data-chart]')].map((f) => [f.dataset.chart, f]));
    chart(figures.messages, data.minutes, data.messages, { unit: t('js.unit.messages') });
    chart(figures.errcodes, data.minutes, data.errcodes, { unit: t('js.unit.calls') });
    chart(figures.queues, data.minutes, data.queues, { unit: t('js.unit.jobs') });
    const window = t('js.window', { seconds: data.welcome.windowSeconds });
    const limit = data.minutes.map(() => data.welcome.windowSeconds);
    chart(figures.welcome, data.minutes, { p50: data.welcome.p50, p99: data.welcome.p99, [window]: limit }, { unit: t('js.unit.seconds'), styles: { [window]: { stroke: '#e54545', dash: [6, 4], width: 1 } } });
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
