import { applyMessageLimits } from '../../src/wecom/limits';
import { expectLimit } from '../support/limits';

/** applyMessageLimits for template cards (reference §2.2, §15): an interactive card WeCom would refuse is refused naming its field. */

const buttonCard = (extra: Record<string, unknown> = {}) => ({
  card_type: 'button_interaction',
  task_id: 'alert-42-ack',
  main_title: { title: 'CPU high on web-3', desc: 'firing since 10:02' },
  button_list: [
    { text: 'Ack', style: 1, key: 'ack' },
    { text: 'Silence 1h', style: 2, key: 'silence1h' },
  ],
  ...extra,
});
const limit = (card: Record<string, unknown>) => () => applyMessageLimits('template_card', card);
const buttons = (n: number) => Array.from({ length: n }, (_, i) => ({ text: `b${i}`, key: `k${i}` }));

describe('applyMessageLimits: template_card', () => {
  it('when a button_interaction card is well formed, then it passes unchanged', () => {
    const card = buttonCard({
      task_id: `A-z_0@${'9'.repeat(122)}`,
      button_list: [...buttons(5), { text: 'Runbook', type: 1, url: 'https://wiki.example/runbook' }],
      horizontal_content_list: Array.from({ length: 6 }, (_, i) => ({ keyname: `k${i}`, value: 'v' })),
    });
    expect(applyMessageLimits('template_card', card)).toEqual(card);
    expect(applyMessageLimits('template_card', buttonCard({ main_title: undefined, sub_title_text: 'disk 95% on db1' }))).toBeDefined();
  });

  it('when the task_id is missing, too long or has other characters, then template_card.task_id is refused', () => {
    expectLimit(limit(buttonCard({ task_id: undefined })), 'template_card.task_id', /required/);
    expectLimit(limit(buttonCard({ task_id: '' })), 'template_card.task_id', /required/);
    expectLimit(limit(buttonCard({ task_id: 'a'.repeat(129) })), 'template_card.task_id', /1 to 128/);
    expectLimit(limit(buttonCard({ task_id: 'alert 42' })), 'template_card.task_id', /\[0-9A-Za-z_-@\]/);
    expectLimit(limit(buttonCard({ task_id: '告警42' })), 'template_card.task_id', /\[0-9A-Za-z_-@\]/);
  });

  it('when the button_list is missing, empty or longer than 6, then template_card.button_list is refused', () => {
    expectLimit(limit(buttonCard({ button_list: undefined })), 'template_card.button_list', '1 to 6 buttons');
    expectLimit(limit(buttonCard({ button_list: [] })), 'template_card.button_list', '1 to 6 buttons');
    expectLimit(limit(buttonCard({ button_list: buttons(7) })), 'template_card.button_list', '1 to 6 buttons');
  });

  it("when a callback button has no key, a key over 1024 bytes or a key another button has, then that button's key is refused", () => {
    expectLimit(
      limit(buttonCard({ button_list: [{ text: 'Ack', key: 'ack' }, { text: 'No key' }] })),
      'template_card.button_list.1.key',
      /required/,
    );
    // 342 three-byte characters are 1026 bytes, though only 342 characters.
    expectLimit(
      limit(buttonCard({ button_list: [{ text: 'Ack', key: '确'.repeat(342) }] })),
      'template_card.button_list.0.key',
      'at most 1024 bytes',
    );
    expect(applyMessageLimits('template_card', buttonCard({ button_list: [{ text: 'Ack', key: '确'.repeat(341) }] }))).toBeDefined();
    expectLimit(
      limit(buttonCard({ button_list: [...buttons(2), { text: 'again', key: 'k0' }] })),
      'template_card.button_list.2.key',
      'unique within the card (button 0 has it too)',
    );
  });

  it('when a url button (type 1) has no http(s) url, then its url is refused, and it needs no key', () => {
    expectLimit(
      limit(buttonCard({ button_list: [{ text: 'Runbook', type: 1, url: 'ftp://wiki.example' }] })),
      'template_card.button_list.0.url',
      'http(s) URL',
    );
    expectLimit(limit(buttonCard({ button_list: [{ text: 'Runbook', type: 1 }] })), 'template_card.button_list.0.url', 'http(s) URL');
    expect(
      applyMessageLimits('template_card', buttonCard({ button_list: [{ text: 'Runbook', type: 1, url: 'https://wiki.example' }] })),
    ).toBeDefined();
  });

  it('when the horizontal_content_list holds more than 6 items, then it is refused', () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ keyname: `k${i}`, value: 'v' }));
    expectLimit(limit(buttonCard({ horizontal_content_list: items })), 'template_card.horizontal_content_list', 'at most 6 items');
  });

  it('when neither main_title.title nor sub_title_text is given, then the title is refused', () => {
    expectLimit(limit(buttonCard({ main_title: { desc: 'only a desc' } })), 'template_card.main_title.title', /sub_title_text/);
    expectLimit(limit(buttonCard({ main_title: undefined, sub_title_text: '  ' })), 'template_card.main_title.title', /sub_title_text/);
  });

  it('when another card type comes, then it is checked as before: only its card_type is required', () => {
    const notice = { card_type: 'text_notice', main_title: { title: 'Deploy' }, card_action: { type: 1, url: 'https://x.example' } };
    expect(applyMessageLimits('template_card', notice)).toEqual(notice);
    expect(applyMessageLimits('template_card', { card_type: 'vote_interaction' })).toEqual({ card_type: 'vote_interaction' });
    expectLimit(limit({ main_title: { title: 'x' } }), 'template_card.card_type', 'is required');
  });
});
