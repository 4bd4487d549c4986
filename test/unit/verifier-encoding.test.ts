/**
 * The encoding layer under the verifier: base64url segments judged as kube's go-jose and jose
 * both would, and JSON objects without duplicate member names.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import {
  decodeAsciiBase64Url,
  findDuplicateJsonKey,
  isBase64Url,
  isCanonicalBase64Url,
  mayHaveDuplicateMember,
  parseJsonObject,
} from '../../core/jws-compact';
import { withNonCanonicalTail } from '../support/tokens';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const OTHER_ASCII = [...Array(128).keys()].map((code) => String.fromCharCode(code)).filter((char) => !ALPHABET.includes(char));

describe('base64url segments', () => {
  it('decodes the canonical encoding of any bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const segment = Buffer.from(bytes).toString('base64url');
        expect(isCanonicalBase64Url(segment)).toBe(true);
        expect(decodeAsciiBase64Url(segment, true)?.equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('refuses any ASCII character outside the alphabet wherever it is inserted or substituted (Node\'s decoder would skip it)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 120 }), fc.constantFrom(...OTHER_ASCII), fc.nat(), fc.boolean(), (bytes, char, position, replace) => {
        const segment = Buffer.from(bytes).toString('base64url');
        const at = position % (segment.length + (replace ? 0 : 1));
        const changed = segment.slice(0, at) + char + segment.slice(replace ? at + 1 : at);
        expect(decodeAsciiBase64Url(changed, false)).toBeUndefined();
        expect(isBase64Url(changed)).toBe(false);
      }),
    );
  });

  it('refuses padding and lengths that cannot be whole bytes', () => {
    expect(decodeAsciiBase64Url('QUI=', false)).toBeUndefined();
    expect(decodeAsciiBase64Url('QUJDRA==', false)).toBeUndefined();
    expect(decodeAsciiBase64Url('QUJDR', false)).toBeUndefined();
    expect(isBase64Url('QUJDR')).toBe(false);
    expect(decodeAsciiBase64Url('', true)?.length).toBe(0);
  });

  it('tells the canonical encoding from one with non-zero unused bits, which decodes to the same bytes', () => {
    const canonical = Buffer.from('AB').toString('base64url'); // "QUI": 2 unused bits
    const loose = withNonCanonicalTail(canonical);
    expect(loose).not.toBe(canonical);
    expect(decodeAsciiBase64Url(loose, true)).toBeUndefined();
    expect(isCanonicalBase64Url(loose)).toBe(false);
    expect(decodeAsciiBase64Url(loose, false)?.toString()).toBe('AB');
    expect(decodeAsciiBase64Url(withNonCanonicalTail('QQ'), true)).toBeUndefined(); // "A": 4 unused bits
  });
});

describe('JSON objects', () => {
  it('finds duplicate member names at any depth, after unescaping, and only within one object', () => {
    expect(findDuplicateJsonKey('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(findDuplicateJsonKey('{"x":{"n":1,"n":2}}')).toBe('n');
    expect(findDuplicateJsonKey('{"x":[{"n":1},{"n":2,"n":3}]}')).toBe('n');
    expect(findDuplicateJsonKey('{"iss":1,"i\\u0073s":2}')).toBe('iss');
    expect(findDuplicateJsonKey('{"a":{"a":1},"b":{"a":2}}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"a":"a","b":"a","c":["a","a"]}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"s":"{\\"a\\":1,\\"a\\":2}","t":"}:,{"}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"__proto__":1,"__proto__":2}')).toBe('__proto__');
  });

  // Names and strings full of the characters the quick check counts: `:` first, last, alone.
  const tricky = fc.string({ unit: fc.constantFrom(':', 'a', ',', '{', '}', '[', ']', '"', ' '), maxLength: 4 });
  const trickyJson = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 3 }),
    object: fc.dictionary(tricky, tie('value'), { maxKeys: 4 }),
  })).value;

  it('the quick check proves compact unescaped JSON free of duplicates, and never errs the other way', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), trickyJson), fc.constantFrom(undefined, 2), (value, indent) => {
        const text = JSON.stringify({ value }, null, indent);
        expect(findDuplicateJsonKey(text)).toBeUndefined();
        const quick = mayHaveDuplicateMember(text, JSON.parse(text));
        // Text with escapes is sent to the exact scan; all other text is cleared, indented or not.
        if (!text.includes('\\')) expect(quick).toBe(false);
        expect(parseJsonObject(Buffer.from(text)).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('the quick check flags a repeated member wherever it is added, and the exact scan names it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.string(), tricky), fc.oneof(fc.jsonValue(), trickyJson), { minKeys: 1 }), fc.oneof(fc.jsonValue(), trickyJson), fc.boolean(), (object, other, nested) => {
        const [name] = Object.keys(object);
        const inner = `{${JSON.stringify(name)}:${JSON.stringify(other) ?? 'null'},${JSON.stringify(object).slice(1)}`;
        const text = nested ? `{"outer":${inner}}` : inner;
        expect(findDuplicateJsonKey(text)).toBe(name);
        expect(mayHaveDuplicateMember(text, JSON.parse(text))).toBe(true);
        expect(parseJsonObject(Buffer.from(text))).toEqual({ ok: false, problem: `duplicate member ${JSON.stringify(name).slice(0, 80)}` });
      }),
      { numRuns: 300 },
    );
  });

  it('counts a string that opens with a colon apart from a member separator, with or without whitespace', () => {
    const clear = ['{":":":"}', '{"a":[":",":a"],":b":{"":":"}}', '{"":""}', '{"a":"b:c","d:":1}', '{" :":"  :"}', '{ "a" :\t" :b" ,\r\n"c": [ " ", ": " ] }'];
    for (const text of clear) {
      expect(mayHaveDuplicateMember(text, JSON.parse(text))).toBe(false);
    }
    // The second: a separator after whitespace, which a count of `":` alone would miss.
    for (const text of ['{":":1,":":2}', '{"a" :1,"b":2,"b":3}', '{"a":":","a":":"}', '{"x":{"":1,"":[":"]}}', '{" :":1, " :" :2}']) {
      expect(mayHaveDuplicateMember(text, JSON.parse(text))).toBe(true);
      expect(findDuplicateJsonKey(text)).toBeDefined();
    }
  });

  it('reads invalid UTF-8 as U+FFFD, so text without U+FFFD came from valid UTF-8', () => {
    const invalid = [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf0, 0x9f, 0x98]];
    for (const bytes of invalid) {
      const buffer = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, ...bytes, 0x22, 0x7d]);
      expect(parseJsonObject(buffer)).toEqual({ ok: false, problem: 'not UTF-8' });
    }
    expect(parseJsonObject(Buffer.from('{"a":"\ufffd"}'))).toEqual({ ok: true, value: { a: '\ufffd' } });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        if (!isUtf8(buffer)) expect(buffer.toString('utf8')).toContain('\ufffd');
      }),
      { numRuns: 2000 },
    );
  });

  it('parses UTF-8 JSON objects only, and refuses a byte order mark as go-jose does', () => {
    expect(parseJsonObject(Buffer.from('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonObject(Buffer.from('\ufeff{"a":1}'))).toEqual({ ok: false, problem: 'not JSON' });
    expect(parseJsonObject(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).toEqual({ ok: false, problem: 'not UTF-8' });
    expect(parseJsonObject(Buffer.from('[1]'))).toEqual({ ok: false, problem: 'not a JSON object' });
    expect(parseJsonObject(Buffer.from('null'))).toEqual({ ok: false, problem: 'not a JSON object' });
    expect(parseJsonObject(Buffer.from('{"a":1,"a":1}'))).toEqual({ ok: false, problem: 'duplicate member "a"' });
  });
});
