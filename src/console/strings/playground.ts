/** The template playground's words. */
const en = {
  'playground.title': 'Template playground',
  'playground.intro': 'Edit the data and see the exact WeCom payload and what recipients see. Nothing is sent until you press Send.',
  'playground.event': 'Event',
  'playground.type': 'Type',
  'playground.as': 'As',
  'playground.data': 'Data (JSON)',
  'playground.recipient': 'Test recipient',
  'playground.recipientHint': "a test member's userid",
  'playground.send': 'Send to test recipient',
  'playground.preview': 'Preview',
  'playground.payload': 'Payload',
  'playground.noRecipient': 'choose a test recipient first',
  'playground.noRecipientField': 'a test member’s userid',
};

const zh: Record<keyof typeof en, string> = {
  'playground.title': '模板调试台',
  'playground.intro': '编辑数据，即可看到发给企业微信的确切消息体和接收人看到的样子。按“发送”之前不会发出任何消息。',
  'playground.event': '事件',
  'playground.type': '类型',
  'playground.as': '发送方式',
  'playground.data': '数据（JSON）',
  'playground.recipient': '测试接收人',
  'playground.recipientHint': '测试成员的 userid',
  'playground.send': '发送给测试接收人',
  'playground.preview': '预览',
  'playground.payload': '消息体',
  'playground.noRecipient': '请先填写测试接收人',
  'playground.noRecipientField': '测试成员的 userid',
};

export const PLAYGROUND = { en, zh };
