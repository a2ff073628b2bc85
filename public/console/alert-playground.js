// The alert playground: renders on load and on every change (the server renders; this page only shows). Nothing is sent.
'use strict';
(function () {
  const form = document.getElementById('alert-playground');
  if (!form) return;
  const $ = (name) => form.elements.namedItem(name);
  const errors = document.getElementById('errors');
  const routed = document.getElementById('routed');
  const forms = document.getElementById('forms');
  const { t } = window.consoleLocale;
  let timer;
  let latest = 0;

  /** The chosen source's sample payload replaces the box. */
  function fillSample() {
    $('payload').value = JSON.stringify(JSON.parse($('source').selectedOptions[0].dataset.sample), null, 2);
  }

  const showErrors = (error) => window.consoleForms.showErrors(errors, error);


  /** What is shown always matches the box: nothing when it does not render. */
  function clearOutput() {
    routed.replaceChildren();
    forms.replaceChildren();
    delete form.dataset.rendered;
  }

  /** The form as the server reads it; a payload that is not JSON is an error of its own, asked of nobody. */
  function tryout() {
    let payload;
    try {
      payload = JSON.parse($('payload').value);
    } catch (err) {
      return { error: { message: t('js.notJson', { field: 'payload', error: err.message }), fields: [{ field: 'payload', message: t('js.notJsonField') }] } };
    }
    return { body: { source: $('source').value, route: $('route').value, payload } };
  }

  const post = window.consoleForms.post;


  function describe(answer) {
    const route = answer.route ? `${t('js.route', { name: answer.route })}${$('route').value ? '' : ` ${t('js.matched')}`}` : t('js.noRoute');
    const forms = answer.forms.length === 1 ? t('js.form') : t('js.forms', { count: answer.forms.length });
    return `${route} · ${t('js.event', { event: answer.event })} · ${forms}${answer.note ? ` · ${answer.note}` : ''}`;
  }

  /** One form: its heading, what its recipients see (HTML the server escaped, src/console/preview.ts), and the exact payload as text. */
  function section(f) {
    const box = document.createElement('section');
    box.className = 'alert-form';
    box.dataset.to = f.to;
    box.dataset.msgtype = f.payload.msgtype;
    if (f.sent) box.dataset.sent = 'true';
    const heading = Object.assign(document.createElement('h3'), { textContent: f.title });
    const pair = Object.assign(document.createElement('div'), { className: 'pair' });
    const preview = document.createElement('div');
    preview.innerHTML = f.html;
    const payload = Object.assign(document.createElement('pre'), { className: 'payload', textContent: JSON.stringify(f.payload, null, 2) });
    pair.append(preview, payload);
    box.append(heading, pair);
    return box;
  }

  async function render() {
    clearTimeout(timer);
    const attempt = ++latest;
    const { body, error } = tryout();
    if (error) {
      showErrors(error);
      return clearOutput();
    }
    let answer;
    try {
      answer = await post(form.dataset.render, body);
    } catch (err) {
      answer = { error: { message: t('js.cannotRender', { error: err.message }) } };
    }
    if (attempt !== latest) return; // a later change has already asked
    showErrors(answer.error);
    if (answer.error) return clearOutput();
    routed.textContent = describe(answer.ok);
    forms.replaceChildren(...answer.ok.forms.map(section));
    form.dataset.rendered = String(attempt);
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(render, 300);
  }

  $('source').addEventListener('change', () => {
    fillSample();
    soon();
  });
  $('route').addEventListener('change', soon);
  $('payload').addEventListener('input', soon);
  render();
})();
