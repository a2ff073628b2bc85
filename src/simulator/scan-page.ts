/** The pages a phone shows after scanning a 「联系我」 code: who was added, and the welcome as the customer sees it. */

/** What the page shows of a scan (scan.ts's ScanOutcome). */
export interface ScannedCustomer {
  employee: string;
  externalUserId: string;
  state?: string;
  welcome: { text?: string; attachments: Record<string, unknown>[]; afterMs: number } | null;
}

export const escapeHtml = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const linkTo = (url: unknown, label: unknown) =>
  typeof url === 'string' && /^https?:\/\//i.test(url) ? `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>` : escapeHtml(label);

// A backslash at a line's end continues it: the page is sent as three lines of style.
const STYLE = `body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:32rem;margin:0 auto;\
padding:1rem;color:#1f2329;background:#f5f6f7}
h1{font-size:1.25rem;margin:.5rem 0}h1 small{display:block;font-size:.9rem;color:#646a73;font-weight:normal}\
.meta,.foot{color:#646a73;font-size:.85rem;word-break:break-all}
.bubble{background:#fff;border-radius:.5rem;padding:.75rem;margin:.5rem 0;box-shadow:0 1px 2px #0001;white-space:pre-wrap;\
word-break:break-word}.kind{color:#646a73;font-size:.8rem}.warn{color:#b42318}`;

/** A small page that reads well on a phone (the web login's member chooser too). */
export function page(title: string, content: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">\
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head><body>${content}<p class="foot">企业微信模拟器（沙盒） · WeCom simulator (sandbox)</p></body></html>`;
}

const LABELS: Record<string, string> = {
  link: '链接 · link',
  miniprogram: '小程序 · mini program',
  image: '图片 · image',
  video: '视频 · video',
  file: '文件 · file',
};

/** One attachment as the customer would see it, roughly: its kind, title and where it leads. */
function attachmentHtml(attachment: Record<string, unknown>): string {
  const kind = String(attachment.msgtype);
  const item = (attachment[kind] ?? {}) as Record<string, unknown>;
  let shown: string;
  if (kind === 'link') shown = `${linkTo(item.url, item.title)}${item.desc ? `<br>${escapeHtml(item.desc)}` : ''}`;
  else if (kind === 'miniprogram') {
    shown = `${escapeHtml(item.title)}<br><span class="kind">${escapeHtml(item.appid)} ${escapeHtml(item.page ?? '')}</span>`;
  } else if (kind === 'image' && item.pic_url) shown = linkTo(item.pic_url, item.pic_url);
  else shown = escapeHtml(item.media_id ?? JSON.stringify(item));
  return `<div class="bubble"><div class="kind">${escapeHtml(LABELS[kind] ?? kind)}</div>${shown}</div>`;
}

export function scanPage(outcome: ScannedCustomer): string {
  const who = escapeHtml(outcome.employee);
  const state = outcome.state ? ` · 渠道 · state ${escapeHtml(outcome.state)}` : '';
  const head = `<h1>已添加 ${who} 为联系人<small>Added ${who} as a contact</small></h1>
<p class="meta">客户 · customer ${escapeHtml(outcome.externalUserId)}${state}</p>`;
  const title = `已添加 ${outcome.employee} · Added ${outcome.employee}`;
  const welcome = outcome.welcome;
  if (!welcome) {
    const none = "20 秒内没有收到欢迎语 · No welcome within 20 s: the gateway's GET /v1/welcome/outcomes says why.";
    return page(title, `${head}<p class="warn">${none}</p>`);
  }
  const text = welcome.text ? `<div class="bubble">${escapeHtml(welcome.text)}</div>` : '';
  const attachments = welcome.attachments.map(attachmentHtml).join('');
  return page(title, `${head}<p>欢迎语 · Welcome <span class="kind">(${welcome.afterMs} ms)</span></p>${text}${attachments}`);
}

export function scanFailedPage(message: string): string {
  return page('扫码失败 · Scan failed', `<h1>扫码失败<small>Scan failed</small></h1><p class="warn">${escapeHtml(message)}</p>`);
}
