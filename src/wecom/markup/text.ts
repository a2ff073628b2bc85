/** What a reader sees of WeCom markup: plain text, as the client draws it without its colours. */
import { descriptionTokens, type DescriptionToken } from './tokens';

/** A run of description tokens as text: `<br>` a line break, entities decoded, tags gone. */
export function inlineText(tokens: DescriptionToken[]): string {
  return tokens.map((token) => (token.kind === 'text' ? token.text : token.kind === 'break' ? '\n' : '')).join('');
}

/**
 * What a reader sees of a textcard description whose markup WeCom knows (see
 * markupProblems): tags removed, `<br>` and each div's start and end as line
 * breaks (a div is a block), entities decoded.
 */
export function textcardSeen(description: string): string {
  let seen = '';
  for (const token of descriptionTokens(description)) {
    if (token.kind === 'div' || token.kind === 'divEnd') {
      if (seen !== '' && !seen.endsWith('\n')) seen += '\n';
    } else seen += inlineText([token]);
  }
  return seen.replace(/\n+$/, '');
}
