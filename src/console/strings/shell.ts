/** The page shell's words: the language's own name, the time note, the navigation, and what a key may not do. */
const en = {
  'lang.name': 'English',
  'times.note': 'Times in {zone}, 24-hour',

  'nav.overview': 'Overview',
  'nav.messages': 'Messages',
  'nav.playground': 'Playground',
  'nav.queues': 'Queues',
  'console.mayNot': 'this key may not {permission}: the console does what the key may do through the API, no more',
};

const zh: Record<keyof typeof en, string> = {
  'lang.name': '中文',
  'times.note': '时间为 {zone} 时区，24 小时制',

  'nav.overview': '概览',
  'nav.messages': '消息',
  'nav.playground': '模板调试台',
  'nav.queues': '队列',
  'console.mayNot': '此密钥没有 {permission} 权限：控制台只做这个密钥通过 API 能做的事',
};

export const SHELL = { en, zh };
