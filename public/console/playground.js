// The template playground: renders on every edit (the server renders; this page only shows), sends only on the button.
'use strict';
(function () {
  const form = document.getElementById('playground');
  if (!form) return;
  const $ = (name) => form.elements.namedItem(name);
  const errors = document.getElementById('errors');
  const preview = document.getElementById('preview');
  const payload = document.getElementById('payload');
  const sent = document.getElementById('sent');
  const { t } = window.consoleLocale;
  let timer;
  let latest = 0;

  function chosenEvent() {
    return $('event').selectedOptions[0];
  }

  function fillTypes() {
    const option = chosenEvent();
    const types = option.dataset.msgtypes.split(' ');
    $('msgtype').replaceChildren(...types.map((t) => new Option(t, t, t === option.dataset.default, t === option.dataset.default)));
    $('data').value = JSON.stringify(JSON.parse(option.dataset.sample), null, 2);
  }

  const showErrors = (error) => window.consoleForms.showErrors(errors, error);


  /** The form as the server reads it; a data box that is not JSON is an error of its own, named like the server's. */
  function tryout() {
    let data;
    try {
      data = JSON.parse($('data').value || '{}');
    } catch (err) {
      return { error: { message: t('js.notJson', { field: 'data', error: err.message }), fields: [{ field: 'data', message: t('js.notJsonField') }] } };
    }
    return { body: { event: $('event').value, msgtype: $('msgtype').value, data, recipient: $('recipient').value, robot: $('robot').value } };
  }

  const post = window.consoleForms.post;


  async function render() {
    const attempt = ++latest;
    const { body, error } = tryout();
    if (error) {
      showErrors(error);
      return clearOutput();
    }
    const answer = await post(form.dataset.render, body);
    if (attempt !== latest) return; // a later edit has already asked
    showErrors(answer.error);
    if (answer.error) return clearOutput();
    // The previews are HTML the server escaped (src/console/preview.ts); the payloads are shown as text.
    // `to` is `members` or `robot <name>`: shown as text, in the page's language.
    const to = (p) => (p.to === 'members' ? t('js.appMessage') : t('js.robot', { name: p.to.replace(/^robot /, '') }));
    preview.replaceChildren(...answer.ok.payloads.flatMap((p) => {
      const html = document.createElement('template');
      html.innerHTML = p.html;
      return [Object.assign(document.createElement('div'), { className: 'meta', textContent: to(p) }), ...html.content.childNodes];
    }));
    payload.replaceChildren(...answer.ok.payloads.map((p) => Object.assign(document.createElement('pre'), { className: 'payload', textContent: JSON.stringify(p.payload, null, 2) })));
    form.dataset.rendered = String(attempt);
  }

  /** What is shown always matches the data in the box: nothing when it does not render. */
  function clearOutput() {
    preview.replaceChildren();
    payload.replaceChildren();
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(render, 250);
  }

  $('event').addEventListener('change', () => { fillTypes(); render(); });
  for (const name of ['msgtype', 'robot']) $(name).addEventListener('change', render);
  $('data').addEventListener('input', soon);
  document.getElementById('send').addEventListener('click', async () => {
    const { body, error } = tryout();
    if (error) return showErrors(error);
    sent.textContent = t('js.sending');
    const answer = await post(form.dataset.send, body);
    showErrors(answer.error);
    sent.replaceChildren();
    if (answer.error) return;
    const link = Object.assign(document.createElement('a'), { href: form.dataset.messages + answer.ok.id, textContent: t('js.queued', { id: answer.ok.id }) });
    sent.appendChild(link);
  });
  fillTypes();
  render();
})();
