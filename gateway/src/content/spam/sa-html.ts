/*
 * content/spam/sa-html.ts — the HTML facts SpamAssassin's HTMLEval rules test (html_test,
 * html_range, html_eval, html_tag_exists, html_tag_balance, html_image_only, html_image_ratio,
 * html_text_match), computed by one pass of a small tag scanner over the decoded HTML part, in
 * the manner of SpamAssassin's HTML.pm: a stack of text styles (foreground, background, font
 * size) for low-contrast text, tags seen and their open/close balance, image area, comments,
 * title and anchor texts, and the rendered text itself as HTML.pm's display_text builds it (what
 * body rules and Bayes read: `<br>`/`<div>` a line break, `<p>`, `<title>` … a blank line, cells,
 * list items and headings a space, other tags nothing, so "V<b></b>iagra" reads "Viagra"). An
 * approximation of a real renderer, as SpamAssassin's own is.
 */
import { createRequire } from 'node:module';

// The entity table costs ~8 MB of RSS: loaded at the first named entity, not with the module.
let entities: typeof import('entities') | null = null;
const decodeNamed = (s: string): string => (entities ??= createRequire(import.meta.url)('entities') as typeof import('entities')).decodeHTMLStrict(s);

export interface HtmlFacts {
  /** Flags for html_test: html, font_low_contrast, font_invalid_color, font_face_bad, embeds, form_action_mailto. */
  readonly flags: ReadonlySet<string>;
  /** Numbers for html_range / html_eval: length, max_size, min_size, closed_extra_ratio, non_space_len, image_area. */
  readonly values: Readonly<Record<string, number>>;
  /** inside: tag → opened minus closed (html_tag_exists, html_tag_balance). */
  readonly inside: ReadonlyMap<string, number>;
  /** comment, title, anchor texts (html_text_match). */
  readonly texts: Readonly<Record<'comment' | 'title' | 'anchor', readonly string[]>>;
  /** The text as HTML.pm renders it (get_rendered_text): what body rules read. */
  readonly rendered: string;
  /**
   * Only the text a reader sees (get_rendered_text(invisible => 0)): what SpamAssassin's Bayes
   * reads. Text is invisible as html_font_invisible says: colour equal or near the background,
   * an invalid colour, font size 1 or less, `display: none`, `visibility: hidden`.
   */
  readonly visible: string;
  /** The invisible text alone (get_rendered_text(invisible => 1)): SpamAssassin's `I*:` Bayes tokens. */
  readonly invisible: string;
  /** The links HTML.pm's html_uri collects (its tags and attributes only), each once, relative ones against <base href>. */
  readonly uris: readonly string[];
}

const MAX = 256 * 1024;

/** The whitespace a tag stands for in rendered text (HTML.pm's html_whitespace), at start and end. */
const WS_NEWLINE = new Set(['br', 'div']);
const WS_SPACE = new Set(['li', 'th', 'td', 'dd', 'dt', 'embed', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
const WS_PARAGRAPH = new Set(['p', 'hr', 'blockquote', 'pre', 'listing', 'plaintext', 'xmp', 'title']);
// HTML.pm's %html_color: the CSS colour names it knows (any other name is an invalid colour).
const NAMED: ReadonlyMap<string, string> = new Map((
  'aqua:00ffff black:000000 blue:0000ff fuchsia:ff00ff gray:808080 green:008000 lime:00ff00 maroon:800000 '
  + 'navy:000080 olive:808000 purple:800080 red:ff0000 silver:c0c0c0 teal:008080 white:ffffff yellow:ffff00 '
  + 'aliceblue:f0f8ff antiquewhite:faebd7 aquamarine:7fffd4 azure:f0ffff beige:f5f5dc bisque:ffe4c4 '
  + 'blanchedalmond:ffebcd blueviolet:8a2be2 brown:a52a2a burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 '
  + 'chocolate:d2691e coral:ff7f50 cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff '
  + 'darkblue:00008b darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 '
  + 'darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc '
  + 'darkred:8b0000 darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f '
  + 'darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff '
  + 'dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0 forestgreen:228b22 '
  + 'gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 greenyellow:adff2f grey:808080 '
  + 'honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa '
  + 'lavenderblush:fff0f5 lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080 '
  + 'lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90 lightgrey:d3d3d3 '
  + 'lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa lightskyblue:87cefa lightslategray:778899 '
  + 'lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0 limegreen:32cd32 linen:faf0e6 '
  + 'magenta:ff00ff mediumaquamarine:66cdaa mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db '
  + 'mediumseagreen:3cb371 mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc '
  + 'mediumvioletred:c71585 midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 '
  + 'navajowhite:ffdead oldlace:fdf5e6 olivedrab:6b8e23 orange:ffa500 orangered:ff4500 orchid:da70d6 '
  + 'palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093 papayawhip:ffefd5 '
  + 'peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6 rosybrown:bc8f8f royalblue:4169e1 '
  + 'saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee sienna:a0522d '
  + 'skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa springgreen:00ff7f '
  + 'steelblue:4682b4 tan:d2b48c thistle:d8bfd8 tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 '
  + 'whitesmoke:f5f5f5 yellowgreen:9acd32'
).split(' ').map((p) => { const [n, h] = p.split(':'); return [n!, `#${h}`] as const; }));

/**
 * A colour as HTML.pm's name_to_rgb reads it: a known name, `#` and hex digits (cut to 6, or to
 * 3 when 4–5, padded, shorthand doubled), `rgb(…)`; anything else — hex digits without `#`, an
 * unknown name, an empty value — is 'invalid'. Undefined stays null (no attribute).
 */
export function colorValue(v: string | undefined): string | null {
  if (v === undefined) return null;
  let c = v.toLowerCase().trim();
  const named = NAMED.get(c);
  if (named) return named;
  if (!/^[#a-f0-9]*$|rgb\([\d%, ]*\)/.test(c)) return 'invalid';
  const hex2 = (n: number) => Math.trunc(n).toString(16).padStart(2, '0');
  let m = /rgb\((\d+)%,\s*(\d+)%,\s*(\d+)%\s*\)/.exec(c);
  if (m) c = `#${hex2((Number(m[1]) / 100) * 255)}${hex2((Number(m[2]) / 100) * 255)}${hex2((Number(m[3]) / 100) * 255)}`;
  m = /rgb\((\d+),\s*(\d+),\s*(\d+)\s*\)/.exec(c);
  if (m) c = `#${hex2(Number(m[1]))}${hex2(Number(m[2]))}${hex2(Number(m[3]))}`;
  if (!c.startsWith('#')) return 'invalid';
  c = c.replace(/[^a-f0-9]/g, '');
  if (c.length > 6) c = c.slice(0, 6);
  if (c.length > 3 && c.length < 6) c = c.slice(0, 3);
  if (c.length % 3) c += '0'.repeat(3 - (c.length % 3));
  if (c.length === 3) c = c.replace(/(.)/g, '$1$1');
  return `#${c}`;
}

/** A style's colour value as text_style reads it: rgb() from its digits, 'inherit' null, 'transparent' kept. */
function styleColor(v: string): string | null {
  const value = v.toLowerCase().replace(/\s*!\s*important$/, '');
  if (value.includes('rgb')) {
    const rgb = value.replace(/[^0-9,]/g, '').split(',').slice(0, 3).map((x) => Math.min(255, Number(x) || 0));
    while (rgb.length < 3) rgb.push(0);
    return `#${rgb.map((n) => n.toString(16).padStart(2, '0')).join('')}`;
  }
  if (value === 'inherit') return null;
  if (value === 'transparent') return value;
  return colorValue(value);
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
const STYLE_TAGS = new Set(['table', 'td', 'th', 'tr', 'span', 'p', 'div', 'a']);
const STYLED = new Set(['body', 'font', 'table', 'td', 'th', 'tr', 'div', 'span', 'p', 'a', 'b', 'i', 'u', 'center', 'strong', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'tbody', 'small', 'big', 'li', 'ul', 'ol', 'blockquote', 'pre', 'label', 'form']);
// A word character for HTML.pm's obfuscation count: not space, not ASCII punctuation.
const WORD_START = /^[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/;
const WORD_END = /[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/;

interface Style { fg: string; bg: string; size: number; tag: string; display?: string; visibility?: string }

/**
 * Text as HTML::Parser decodes it, in one pass: `&nbsp;` a space (HTML.pm replaces it first), a
 * numeric reference as that code point (0x80–0x9F stay C1 characters, unlike browsers), a named
 * entity of HTML 4's set (`&reg;`, `&eacute;` …; without its `;` only before a non-alphanumeric).
 */
const SIMPLE_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', AMP: '&', LT: '<', GT: '>', QUOT: '"' };

function decodeEntities(t: string): string {
  if (!t.includes('&')) return t;
  return t.replace(/&nbsp;/gi, ' ').replace(/&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|([a-zA-Z][a-zA-Z0-9]*))(;?)/g, (m, dec?: string, hex?: string, name?: string, semi?: string, at?: number, all?: string) => {
    if (dec !== undefined) return String.fromCharCode(Number(dec) & 0xffff);
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16) & 0xffff);
    if (semi === '' && /[a-zA-Z0-9]/.test(all!.charAt(at! + m.length))) return m;
    if (SIMPLE_ENTITIES[name!] !== undefined) return SIMPLE_ENTITIES[name!]!;
    const decoded = decodeNamed(`&${name};`);
    return decoded.startsWith('&') && decoded.length > 1 ? m : decoded;
  });
}

export function htmlFacts(htmlIn: string): HtmlFacts {
  const html = htmlIn.slice(0, MAX);
  const flags = new Set<string>();
  const inside = new Map<string, number>();
  const texts = { comment: [] as string[], title: [] as string[], anchor: [] as string[] };
  const values: Record<string, number> = {};
  if (html.trim() === '') return { flags, values, inside, texts, rendered: '', visible: '', invisible: '', uris: [] };
  const stack: Style[] = [{ fg: '#000000', bg: '#ffffff', size: 3, tag: '' }];
  // Rendered text chunks as HTML.pm's display_text keeps them (whether each is whitespace); the
  // last one is what the obfuscation count compares with (a word split by a tag, "V<b></b>iagra").
  const chunks: string[] = [];
  const wsChunk: boolean[] = [];
  const hidden: boolean[] = [];
  const display = (text: string, ws: boolean, invisible = false) => {
    let t = text;
    const n = chunks.length;
    if (ws) {
      // A whitespace element trims the space the visible text before it ended with.
      if (n > 0 && !wsChunk[n - 1] && !hidden[n - 1]) chunks[n - 1] = chunks[n - 1]!.replace(/ $/, '');
    } else {
      t = t.replace(/[ \t\n\r\f\v]+/g, ' ');
      if (n > 0 && !invisible && wsChunk[n - 1]) t = t.replace(/^ /, '');
    }
    chunks.push(t);
    wsChunk.push(ws);
    hidden.push(invisible);
  };
  const uris = new Set<string>();
  let base = '';
  const pushUri = (value: string | undefined) => {
    if (value === undefined) return;
    const uri = value.replace(/^[\s\xa0]+|[\s\xa0]+$/g, '').slice(0, 8192);
    if (uri === '') return;
    if (base === '' || /^[a-z][a-z0-9+.-]*:/i.test(uri)) { uris.add(uri); return; }
    try {
      uris.add(new URL(uri, base).href);
    } catch {
      uris.add(uri);
    }
  };
  // HTML.pm's html_uri: which tags' which attributes are links.
  const htmlUri = (tag: string, a: Record<string, string>) => {
    if (tag === 'body' || tag === 'table' || tag === 'tr' || tag === 'td') pushUri(a.background);
    else if (tag === 'a' || tag === 'area' || tag === 'link') {
      // (HTML.pm also reads a `x/href` attribute; our attribute names never hold a slash.)
      pushUri(a.href?.replace(/\ufeff/g, ''));
      pushUri(a['data-saferedirecturl']);
    } else if (/^(?:img|frame|iframe|embed|script|bgsound)$/.test(tag)) pushUri(a.src);
    else if (tag === 'form') pushUri(a.action);
    else if (tag === 'base' && a.href) {
      const uri = a.href.replace(/^[\s\xa0]+|[\s\xa0]+$/g, '');
      pushUri(uri);
      // An absolute base of a standard protocol: its directory, ending in a slash.
      if (/^(?:https?|ftp):\/{0,2}/i.test(uri)) {
        base = uri.replace(/^([a-z]+:\/{0,2}[^/]+\/.*?)[^/.]+\.[^/.]{2,4}$/i, '$1');
        if (!base.endsWith('/')) base += '/';
      }
    } else if (tag === 'meta' && /refresh/i.test(a['http-equiv'] ?? '') && /\burl\s*=/i.test(a.content ?? '')) {
      pushUri(a.content!.replace(/^.*\burl\s*=\s*/i, '').replace(/\s*;.*/, ''));
    }
  };
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
    if (WORD_START.test(t) && chunks.length > 0 && WORD_END.test(chunks[chunks.length - 1]!)) obfuscation++;
    if (inTitle) texts.title.push(t);
    if (inAnchor) texts.anchor[texts.anchor.length - 1] += t;
    let invisible = false;
    if (/[^ \t\n\r\f\v]/.test(t)) {
      const top = stack[stack.length - 1]!;
      // As html_font_invisible: low contrast first (two invalid colours are "the same"), then
      // invalid, then tiny or hidden text (no flag).
      const low = lowContrast(top.fg, top.bg);
      const invalid = top.fg === 'invalid' || top.bg === 'invalid';
      if (low) flags.add('font_low_contrast');
      else if (invalid) flags.add('font_invalid_color');
      invisible = low || invalid || top.size <= 1 || top.display?.toLowerCase() === 'none' || top.visibility?.toLowerCase() === 'hidden';
    }
    display(t, false, invisible);
  };
  // HTML::Parser's markup (hparser.c, non-strict): comments, declarations, start and end tags, a
  // processing instruction `<?…>` (no handler in HTML.pm: dropped), and `</>` or `</ x>` (a
  // bogus comment there); any other `<` is text. A quote opens a quoted value only after `=`:
  // elsewhere it is an ordinary character, so `style="x;>` followed by `<a href="…" >` ends at
  // that `>` and does not swallow the text up to some later quote.
  const re = /<!--([\s\S]*?)(?:-->|$)|<!([^>]*)>|<(\/?)([a-zA-Z_:][-a-zA-Z0-9._:]*)((?:=\s*"[^"]*"|=\s*'[^']*'|[^>])*)>|(<\?[^>]*>)|(<\/(?:>|\s[^>]*>))|([^<]+|<)/g;
  for (const m of html.matchAll(re)) {
    if (m[1] !== undefined) { texts.comment.push(`<!--${m[1]}-->`); continue; }
    if (m[6] !== undefined) continue;
    if (m[7] !== undefined) { texts.comment.push(m[7]); continue; }
    if (m[2] !== undefined) {
      // A declaration (<!DOCTYPE …>) is no comment for HTML.pm (html_declaration).
      if (/^doctype/i.test(m[2])) { elements++; tags++; inside.set('!doctype', 0); }
      continue;
    }
    if (m[8] !== undefined) { onText(m[8]); continue; }
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
    if (WS_NEWLINE.has(tag)) display('\n', true);
    else if (WS_SPACE.has(tag)) display(' ', true);
    else if (WS_PARAGRAPH.has(tag)) display('\n\n', true);
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
    htmlUri(tag, a);
    if (tag === 'form' && /mailto:/i.test(a.action ?? '')) flags.add('form_action_mailto');
    if (tag === 'object' || tag === 'embed') flags.add('embeds');
    if (tag === 'font' && a.face !== undefined && !/^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$/i.test(a.face)) flags.add('font_face_bad');
    if (STYLED.has(tag)) {
      const top = stack[stack.length - 1]!;
      const next: Style = { ...top, tag };
      // As HTML.pm's text_style with its %ok_attributes: the text colour from <font color>,
      // <basefont color> and <body text>; colours in a style only on table cells and rows, span,
      // p, div and a; the background only from such a style (HTML.pm reads a bgcolor attribute
      // but never applies it, and SpamAssassin's scores were set with that behaviour).
      const fg = colorValue(tag === 'font' || tag === 'basefont' ? a.color : tag === 'body' ? a.text : undefined);
      if (fg) next.fg = fg;
      if (a.style !== undefined && STYLE_TAGS.has(tag)) {
        for (const part of a.style.split(';')) {
          const m = /^\s*(background-)?color:\s*(.+?)\s*$/i.exec(part);
          if (!m) {
            // Any other property as style_<name> (case kept): display and visibility matter.
            const o = /^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$/i.exec(part);
            if (o?.[1] === 'display') next.display = o[2]!;
            else if (o?.[1] === 'visibility') next.visibility = o[2]!;
            continue;
          }
          const c = styleColor(m[2]!);
          if (c === null) continue;
          if (m[1]) next.bg = c;
          else next.fg = c;
        }
        // Transparent (bug 8205): the background is the parent's, the text the background.
        if (next.bg === 'transparent') next.bg = top.bg;
        if (next.fg === 'transparent') next.fg = next.bg;
      }
      // <big> and <small> step the size (text_style returns before reading their attributes).
      if (tag === 'big') next.size += 1;
      else if (tag === 'small') next.size -= 1;
      else if (tag === 'font' && a.size !== undefined) {
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
  const rendered = chunks.join('');
  const visible = chunks.filter((_, i) => !hidden[i]).join('');
  const invisible = chunks.filter((_, i) => hidden[i]).join('');
  values.non_space_len = rendered.replace(/\s+/g, '').length;
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
  return { flags, values, inside, texts, rendered, visible, invisible, uris: [...uris] };
}
