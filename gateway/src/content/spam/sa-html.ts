/*
 * content/spam/sa-html.ts — the HTML facts SpamAssassin's HTMLEval rules test (html_test,
 * html_range, html_eval, html_tag_exists, html_tag_balance, html_image_only, html_image_ratio,
 * html_text_match), computed by one pass of a small tag scanner over the decoded HTML part, in
 * the manner of SpamAssassin's HTML.pm: a stack of text styles (foreground, background, font
 * size) for low-contrast text, tags seen and their open/close balance, rendered text length,
 * image area, comments, title and anchor texts. An approximation of a real renderer, as
 * SpamAssassin's own is.
 */

export interface HtmlFacts {
  /** Flags for html_test: html, font_low_contrast, font_invalid_color, font_face_bad, embeds, form_action_mailto. */
  readonly flags: ReadonlySet<string>;
  /** Numbers for html_range / html_eval: length, max_size, min_size, closed_extra_ratio, non_space_len, image_area. */
  readonly values: Readonly<Record<string, number>>;
  /** inside: tag → opened minus closed (html_tag_exists, html_tag_balance). */
  readonly inside: ReadonlyMap<string, number>;
  /** comment, title, anchor texts (html_text_match). */
  readonly texts: Readonly<Record<'comment' | 'title' | 'anchor', readonly string[]>>;
}

const MAX = 256 * 1024;

/** HTML → text as body rules see it: tags out, paragraphs as blank lines, common entities decoded. */
export function stripTags(html: string): string {
  return html.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<!--[\s\S]*?-->/g, ' ').replace(/<br\s*\/?>|<\/p>|<p[^>]*>|<\/div>|<\/tr>/gi, '\n\n')
    .replace(/<[^>]*>/g, '').replace(/&nbsp;/gi, ' ').replace(/&amp;/gi, '&').replace(/&lt;/gi, '<').replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"').replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n) & 0xffff)).replace(/&[a-z]+;/gi, ' ');
}

const WS_NEWLINE = new Set(['br', 'div']);
const WS_SPACE = new Set(['li', 'th', 'td', 'dd', 'dt', 'embed', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
const WS_PARAGRAPH = new Set(['p', 'hr', 'blockquote', 'pre', 'listing', 'plaintext', 'xmp', 'title']);
const TOKENS = /<!--[\s\S]*?(?:-->|$)|<![^>]*>|<(\/?)([a-zA-Z][-a-zA-Z0-9._:]*)(?:[^>"']|"[^"]*"|'[^']*')*>|([^<]+|<)/g;

/**
 * The text of an HTML part as SpamAssassin's HTML.pm renders it (get_rendered_text): text outside
 * script and style with entities decoded and whitespace runs as one space; `<br>`/`<div>` a line
 * break, `<p>`, `<hr>`, `<blockquote>`, `<pre>`, `<title>` … a blank line, table cells, list items
 * and headings a space (at start and end tags alike); any other tag nothing, so "V<b></b>iagra"
 * reads "Viagra". Comments, declarations and image alt texts are not text.
 */
export function renderHtml(htmlIn: string): string {
  const html = htmlIn.slice(0, MAX);
  const out: string[] = [];
  let lastWs = false;
  let skip = 0;
  const push = (t: string, ws: boolean) => {
    if (ws) {
      // display_text: a whitespace element trims the space a text element ended with.
      if (out.length > 0 && !lastWs) out[out.length - 1] = out[out.length - 1]!.replace(/ $/, '');
    } else {
      t = t.replace(/[ \t\n\r\f\v]+/g, ' ');
      if (lastWs) t = t.replace(/^ /, '');
    }
    out.push(t);
    lastWs = ws;
  };
  for (const m of html.matchAll(TOKENS)) {
    if (m[3] !== undefined) {
      if (skip === 0) push(decodeEntities(m[3]), false);
      continue;
    }
    if (m[2] === undefined) continue;
    const tag = m[2].toLowerCase();
    if (tag === 'script' || tag === 'style') skip = Math.max(0, skip + (m[1] === '/' ? -1 : 1));
    if (WS_NEWLINE.has(tag)) push('\n', true);
    else if (WS_SPACE.has(tag)) push(' ', true);
    else if (WS_PARAGRAPH.has(tag)) push('\n\n', true);
  }
  return out.join('');
}

const NAMED: Record<string, string> = {
  black: '#000000', white: '#ffffff', red: '#ff0000', green: '#008000', blue: '#0000ff', yellow: '#ffff00', silver: '#c0c0c0',
  gray: '#808080', grey: '#808080', maroon: '#800000', purple: '#800080', fuchsia: '#ff00ff', lime: '#00ff00', olive: '#808000',
  navy: '#000080', teal: '#008080', aqua: '#00ffff', orange: '#ffa500', whitesmoke: '#f5f5f5', snow: '#fffafa', ivory: '#fffff0',
  beige: '#f5f5dc', linen: '#faf0e6', azure: '#f0ffff', lightgrey: '#d3d3d3', lightgray: '#d3d3d3', gainsboro: '#dcdcdc',
};

/** A colour as #rrggbb, 'invalid', or null when absent. */
export function colorValue(v: string | undefined): string | null {
  if (v === undefined) return null;
  const s = v.trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (s === '') return null;
  if (s === 'transparent') return 'transparent';
  let m = /^#?([0-9a-f]{6})$/.exec(s);
  if (m) return `#${m[1]}`;
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(s);
  if (m) return `#${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`;
  if (NAMED[s]) return NAMED[s]!;
  if (/^[a-z]+$/.test(s)) return s; // other CSS names: compared by name only
  return 'invalid';
}

function lowContrast(fg: string, bg: string): boolean {
  if (fg.slice(-6) === bg.slice(-6)) return true;
  const a = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(fg);
  const b = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(bg);
  if (!a || !b) return false;
  const d = (i: number) => parseInt(a[i]!, 16) - parseInt(b[i]!, 16);
  return Math.sqrt((0.2126 * d(1)) ** 2 + (0.7152 * d(2)) ** 2 + (0.0722 * d(3)) ** 2) < 12;
}

function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g)) {
    out[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}

// HTML.pm's %elements (HTML 4.01 / XHTML 1.0 plus its three non-standard ones): the rest are
// "non-elements" for bad_tag_ratio and non_element_ratio.
const ELEMENTS = new Set(('a abbr acronym address area b base bdo big blockquote body br button caption cite code col colgroup dd del dfn div dl dt em '
  + 'fieldset form h1 h2 h3 h4 h5 h6 head hr html i img input ins kbd label legend li link map meta noscript object ol optgroup option p param pre q '
  + 'samp script select small span strong style sub sup table tbody td textarea tfoot th thead title tr tt ul var '
  + 'applet basefont center dir font frame frameset iframe isindex menu noframes s strike u nobr x-sigsep x-tab').split(' '));
// HTML.pm's %elements_whitespace: their start and end tags end the text before them.
const WHITESPACE = new Set('br div li th td dt dd p hr blockquote pre embed listing plaintext xmp title h1 h2 h3 h4 h5 h6'.split(' '));
const STYLED = new Set(['body', 'font', 'table', 'td', 'th', 'tr', 'div', 'span', 'p', 'a', 'b', 'i', 'u', 'center', 'strong', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'tbody', 'small', 'big', 'li', 'ul', 'ol', 'blockquote', 'pre', 'label', 'form']);
// A word character for HTML.pm's obfuscation count: not space, not ASCII punctuation.
const WORD_START = /^[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/;
const WORD_END = /[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/;

interface Style { fg: string; bg: string; size: number; tag: string }

function decodeEntities(t: string): string {
  return t.replace(/&nbsp;/gi, ' ').replace(/&amp;/gi, '&').replace(/&lt;/gi, '<').replace(/&gt;/gi, '>').replace(/&quot;/gi, '"')
    .replace(/&#(\d+);?/g, (_m, n: string) => String.fromCharCode(Number(n) & 0xffff)).replace(/&#x([0-9a-f]+);?/gi, (_m, n: string) => String.fromCharCode(parseInt(n, 16) & 0xffff));
}

export function htmlFacts(htmlIn: string): HtmlFacts {
  const html = htmlIn.slice(0, MAX);
  const flags = new Set<string>();
  const inside = new Map<string, number>();
  const texts = { comment: [] as string[], title: [] as string[], anchor: [] as string[] };
  const values: Record<string, number> = {};
  if (html.trim() === '') return { flags, values, inside, texts };
  const stack: Style[] = [{ fg: '#000000', bg: '#ffffff', size: 3, tag: '' }];
  // The rendered text's length and spaces (non_space_len), the last text chunk rendered (for
  // the obfuscation count: a word split by a tag, "V<b></b>iagra"), and HTML.pm's tag counts.
  let rendered = 0;
  let spaces = 0;
  let lastText = '';
  let obfuscation = 0;
  let elements = 0;
  let tagsSeen = 0;
  let elementsSeen = 0;
  let maxSize = 3;
  let minSize = 3;
  let tags = 0;
  let closedExtra = 0;
  let imageArea = 0;
  let inTitle = false;
  let inAnchor = false;
  let inSkip = 0;
  let anyTag = false;
  const onText = (raw: string) => {
    if (inSkip > 0) return;
    const t = decodeEntities(raw);
    if (WORD_START.test(t) && WORD_END.test(lastText)) obfuscation++;
    lastText = t;
    if (inTitle) texts.title.push(t);
    if (inAnchor) texts.anchor[texts.anchor.length - 1] += t;
    if (/\S/.test(t)) {
      const top = stack[stack.length - 1]!;
      if (top.fg === 'invalid' || top.bg === 'invalid') flags.add('font_invalid_color');
      else if (lowContrast(top.fg, top.bg)) flags.add('font_low_contrast');
    }
    rendered += t.length;
    spaces += (t.match(/\s/g) ?? []).length;
  };
  const re = /<!--([\s\S]*?)(?:-->|$)|<!([^>]*)>|<(\/?)([a-zA-Z][-a-zA-Z0-9._:]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|([^<]+|<)/g;
  for (const m of html.matchAll(re)) {
    if (m[1] !== undefined) { texts.comment.push(`<!--${m[1]}-->`); continue; }
    if (m[2] !== undefined) {
      texts.comment.push(`<!${m[2]}>`);
      if (/^doctype/i.test(m[2])) { elements++; tags++; inside.set('!doctype', 0); }
      continue;
    }
    if (m[6] !== undefined) { onText(m[6]); continue; }
    const closing = m[3] === '/';
    const tag = m[4]!.toLowerCase();
    anyTag = true;
    // As HTML.pm's html_tag: every start tag counts +1 (no void elements), an end tag −1 but
    // never below 0 (the excess is closed_extra); o:p and st1:x count as elements.
    const seen = inside.has(tag);
    if (ELEMENTS.has(tag) || /^(?:o|st\d):[\w-]+\/?$/.test(tag)) {
      elements++;
      if (!seen) elementsSeen++;
    }
    tags++;
    if (!seen) tagsSeen++;
    if (WHITESPACE.has(tag)) lastText = ' ';
    if (closing) {
      const open = (inside.get(tag) ?? 0) - 1;
      if (open < 0) closedExtra++;
      inside.set(tag, Math.max(0, open));
      if (tag === 'title') inTitle = false;
      if (tag === 'a') inAnchor = false;
      if (tag === 'script' || tag === 'style') inSkip = Math.max(0, inSkip - 1);
      if (STYLED.has(tag) && tag !== 'body') {
        for (let i = stack.length - 1; i > 0; i--) {
          if (stack[i]!.tag === tag) { stack.length = i; break; }
        }
      }
      continue;
    }
    inside.set(tag, (inside.get(tag) ?? 0) + 1);
    const a = attrs(m[5] ?? '');
    if (tag === 'title') inTitle = true;
    if (tag === 'script' || tag === 'style') inSkip++;
    if (tag === 'a') { inAnchor = true; texts.anchor.push(''); }
    if (tag === 'img') {
      if (inAnchor) texts.anchor[texts.anchor.length - 1] += '<img>\n';
      if (a.width !== undefined && a.height !== undefined) {
        const dim = (v: string, pct: number) => {
          const d = /^(\d+)(%)?$/.exec(v.trim());
          const n = d ? Number(d[1]) * (d[2] ? pct : 1) : 0;
          return n > 0 ? n : 200;
        };
        imageArea += dim(a.width, 8) * dim(a.height, 6);
      }
    }
    if (tag === 'form' && /mailto:/i.test(a.action ?? '')) flags.add('form_action_mailto');
    if (tag === 'object' || tag === 'embed') flags.add('embeds');
    if (tag === 'font' && a.face !== undefined && !/^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$/i.test(a.face)) flags.add('font_face_bad');
    if (STYLED.has(tag)) {
      const top = stack[stack.length - 1]!;
      const next: Style = { ...top, tag };
      // As HTML.pm: the text colour from <font color> and <body text>; the background only from
      // a style (HTML.pm reads a bgcolor attribute but never applies it, and SpamAssassin's
      // scores were set with that behaviour: white text in a coloured cell is "low contrast").
      const fg = colorValue(tag === 'font' ? a.color : tag === 'body' ? a.text : undefined);
      if (fg && fg !== 'transparent') next.fg = fg;
      const style = a.style ?? '';
      const sc = /(?:^|;)\s*color\s*:\s*([^;]+)/i.exec(style);
      if (sc) { const c = colorValue(sc[1]); if (c && c !== 'transparent') next.fg = c; }
      const sb = /(?:^|;)\s*background(?:-color)?\s*:\s*([^;]+)/i.exec(style);
      if (sb) {
        const c = colorValue(sb[1]!.trim().split(/\s+/)[0]);
        if (c && c !== 'invalid') next.bg = c === 'transparent' ? top.bg : c;
      }
      if (tag === 'font' && a.size !== undefined) {
        const s = /^\s*([+-]?)(\d+)/.exec(a.size);
        if (s) {
          const n = Number(s[2]);
          next.size = s[1] === '+' ? 3 + n : s[1] === '-' ? 3 - n : n;
          if (next.size > maxSize) maxSize = next.size;
          else if (next.size < minSize) minSize = next.size;
        }
      }
      if (tag === 'body') stack[0] = { ...next, tag: '' };
      else stack.push(next);
    }
  }
  // As SpamAssassin (HTML.pm html_start): any text/html part is HTML_MESSAGE, tags or not.
  if (anyTag || htmlIn.trim() !== '') flags.add('html');
  // HTML.pm's `length` is the HTML source's, not the rendered text's (html_image_only's "bytes
  // of words" and __HTML_LENGTH_* are source sizes).
  values.length = html.length;
  values.non_space_len = rendered - spaces;
  values.max_size = maxSize;
  values.min_size = minSize;
  values.image_area = imageArea;
  if (tags > 0) {
    values.closed_extra_ratio = closedExtra / tags;
    // Present only when HTML.pm's counters exist (a first element, a first obfuscation).
    if (elements > 0) values.bad_tag_ratio = (tags - elements) / tags;
    if (obfuscation > 0) values.obfuscation_ratio = obfuscation / tags;
  }
  if (elementsSeen > 0) values.non_element_ratio = (tagsSeen - elementsSeen) / tagsSeen;
  return { flags, values, inside, texts };
}
