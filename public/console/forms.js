// What the console's playgrounds share: posting JSON to the console and showing an API error with its fields.
'use strict';
window.consoleForms = {
  /** `{ ok: answer }`, or `{ error }` as the API words it (a body that is not JSON is named by its status). */
  async post(url, body) {
    const res = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({ error: { message: `${res.status} ${res.statusText}` } }));
    return res.ok ? { ok: answer } : { error: answer.error || { message: `${res.status} ${res.statusText}` } };
  },

  /** The error's message, then each failing field and why, into `box` (emptied first; nothing when there is no error). */
  showErrors(box, error) {
    box.replaceChildren();
    if (!error) return;
    const message = document.createElement('div');
    message.textContent = error.message;
    box.appendChild(message);
    for (const f of error.fields || []) {
      const line = document.createElement('div');
      const field = document.createElement('span');
      field.className = 'field';
      field.textContent = f.field;
      line.append(field, `: ${f.message}`);
      box.appendChild(line);
    }
  },
};
