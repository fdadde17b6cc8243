//! Unicode to WinAnsiEncoding (the PDF flavour of Windows-1252).

/// Encodes `text` as WinAnsiEncoding (Windows-1252) bytes, the encoding of
/// the two fonts. The output contains no control bytes other than `b'\n'`.
///
/// Rules, in order:
/// - printable ASCII and Latin-1 (U+00A0..=U+00FF) map to the same byte;
/// - the Windows-1252 extras (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ)
///   map to their 0x80..=0x9F codes;
/// - non-breaking spaces of any kind (U+00A0, U+2007, U+202F NARROW NO-BREAK
///   SPACE as used by French money formatting) map to 0xA0, which the layout
///   never breaks at; other Unicode spaces become an ordinary space;
/// - a few look-alikes map to their nearest WinAnsi character (U+2212 minus
///   → '-', U+2011 non-breaking hyphen → '-', ʼ → ’, …), and letters of Latin
///   Extended-A that WinAnsi lacks keep their base letter (ł → l, ő → o,
///   ĳ → ij) so that names stay legible;
/// - combining diacritics (decomposed text) are merged into the preceding
///   letter when WinAnsi has the composed form, and dropped otherwise;
/// - `'\n'` is kept (the layout treats it as a line break), `'\t'` becomes a
///   space, other control and invisible format characters are dropped;
/// - everything else (Greek, Cyrillic, CJK, emoji, …) becomes `'?'`.
pub fn to_winansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{300}'..='\u{36F}').contains(&c) {
            if let Some(last) = out.last_mut() {
                if let Some(composed) = compose(*last, c) {
                    *last = composed;
                }
            }
            continue;
        }
        match map_char(c) {
            Mapped::One(b) => out.push(b),
            Mapped::Two(a, b) => {
                out.push(a);
                out.push(b);
            }
            Mapped::Drop => {}
            Mapped::Unknown => out.push(b'?'),
        }
    }
    out
}

enum Mapped {
    One(u8),
    Two(u8, u8),
    Drop,
    Unknown,
}

fn map_char(c: char) -> Mapped {
    let cp = u32::from(c);
    match cp {
        0x0A => Mapped::One(b'\n'),
        0x09 => Mapped::One(b' '),
        0x20..=0x7E => Mapped::One(cp as u8),
        0x00..=0x1F | 0x7F..=0x9F => Mapped::Drop,
        0xAD => Mapped::Drop, // soft hyphen: invisible unless hyphenating
        0xA0..=0xFF => Mapped::One(cp as u8),
        _ => map_beyond_latin1(c),
    }
}

fn map_beyond_latin1(c: char) -> Mapped {
    let cp = u32::from(c);
    let byte = match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' | '‛' => 0x91,
        '’' | 'ʼ' => 0x92,
        '“' | '‟' => 0x93,
        '”' => 0x94,
        '•' | '∙' | '●' => 0x95,
        '–' | '‒' => 0x96,
        '—' | '―' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        '\u{2007}' | '\u{202F}' => 0xA0,
        '\u{2000}'..='\u{200A}' | '\u{205F}' | '\u{3000}' => b' ',
        '\u{2028}' | '\u{2029}' => b'\n',
        '‐' | '‑' | '−' | '⁃' => b'-',
        '′' => b'\'',
        '″' => b'"',
        '⁄' | '∕' => b'/',
        '․' => b'.',
        'Ĳ' => return Mapped::Two(b'I', b'J'),
        'ĳ' => return Mapped::Two(b'i', b'j'),
        'Ș' | 'Ş' => b'S',
        'ș' | 'ş' => b's',
        'Ț' | 'Ţ' => b'T',
        'ț' | 'ţ' => b't',
        '\u{0100}'..='\u{017F}' => {
            let base = LATIN_EXT_A_BASE[(cp - 0x100) as usize];
            if base == b'#' {
                return Mapped::Unknown;
            }
            base
        }
        _ if is_ignorable(cp) => return Mapped::Drop,
        _ => return Mapped::Unknown,
    };
    Mapped::One(byte)
}

/// Base letters for U+0100..=U+017F; `#` marks the code points handled
/// explicitly above (Ĳ ĳ Œ œ Š š Ÿ Ž ž).
const LATIN_EXT_A_BASE: &[u8; 128] = b"AaAaAaCcCcCcCcDd\
DdEeEeEeEeEeGgGg\
GgGgHhHhIiIiIiIi\
Ii##JjKkkLlLlLlL\
lLlNnNnNnnNnOoOo\
Oo##RrRrRrSsSsSs\
##TtTtTtUuUuUuUu\
UuUuWwYy#ZzZz##s";

/// Invisible format characters: zero-width spaces and joiners, direction
/// marks, word joiner, variation selectors, byte-order mark, tags.
fn is_ignorable(cp: u32) -> bool {
    matches!(
        cp,
        0x034F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x2069
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xE0000..=0xE007F
            | 0xE0100..=0xE01EF
    )
}

/// (base byte, combining mark, composed WinAnsi byte).
const COMPOSITIONS: &[(u8, char, u8)] = &[
    (b'A', '\u{300}', 0xC0),
    (b'A', '\u{301}', 0xC1),
    (b'A', '\u{302}', 0xC2),
    (b'A', '\u{303}', 0xC3),
    (b'A', '\u{308}', 0xC4),
    (b'A', '\u{30A}', 0xC5),
    (b'C', '\u{327}', 0xC7),
    (b'E', '\u{300}', 0xC8),
    (b'E', '\u{301}', 0xC9),
    (b'E', '\u{302}', 0xCA),
    (b'E', '\u{308}', 0xCB),
    (b'I', '\u{300}', 0xCC),
    (b'I', '\u{301}', 0xCD),
    (b'I', '\u{302}', 0xCE),
    (b'I', '\u{308}', 0xCF),
    (b'N', '\u{303}', 0xD1),
    (b'O', '\u{300}', 0xD2),
    (b'O', '\u{301}', 0xD3),
    (b'O', '\u{302}', 0xD4),
    (b'O', '\u{303}', 0xD5),
    (b'O', '\u{308}', 0xD6),
    (b'U', '\u{300}', 0xD9),
    (b'U', '\u{301}', 0xDA),
    (b'U', '\u{302}', 0xDB),
    (b'U', '\u{308}', 0xDC),
    (b'Y', '\u{301}', 0xDD),
    (b'Y', '\u{308}', 0x9F),
    (b'S', '\u{30C}', 0x8A),
    (b'Z', '\u{30C}', 0x8E),
    (b'a', '\u{300}', 0xE0),
    (b'a', '\u{301}', 0xE1),
    (b'a', '\u{302}', 0xE2),
    (b'a', '\u{303}', 0xE3),
    (b'a', '\u{308}', 0xE4),
    (b'a', '\u{30A}', 0xE5),
    (b'c', '\u{327}', 0xE7),
    (b'e', '\u{300}', 0xE8),
    (b'e', '\u{301}', 0xE9),
    (b'e', '\u{302}', 0xEA),
    (b'e', '\u{308}', 0xEB),
    (b'i', '\u{300}', 0xEC),
    (b'i', '\u{301}', 0xED),
    (b'i', '\u{302}', 0xEE),
    (b'i', '\u{308}', 0xEF),
    (b'n', '\u{303}', 0xF1),
    (b'o', '\u{300}', 0xF2),
    (b'o', '\u{301}', 0xF3),
    (b'o', '\u{302}', 0xF4),
    (b'o', '\u{303}', 0xF5),
    (b'o', '\u{308}', 0xF6),
    (b'u', '\u{300}', 0xF9),
    (b'u', '\u{301}', 0xFA),
    (b'u', '\u{302}', 0xFB),
    (b'u', '\u{308}', 0xFC),
    (b'y', '\u{301}', 0xFD),
    (b'y', '\u{308}', 0xFF),
    (b's', '\u{30C}', 0x9A),
    (b'z', '\u{30C}', 0x9E),
];

fn compose(base: u8, mark: char) -> Option<u8> {
    COMPOSITIONS
        .iter()
        .find(|(b, m, _)| *b == base && *m == mark)
        .map(|(_, _, composed)| *composed)
}

#[cfg(test)]
mod tests {
    use super::to_winansi;

    #[test]
    fn maps_accents_euro_and_punctuation() {
        assert_eq!(to_winansi("é ë ç à ü"), b"\xE9 \xEB \xE7 \xE0 \xFC");
        assert_eq!(
            to_winansi("€ – — • ‘’“”"),
            b"\x80 \x96 \x97 \x95 \x91\x92\x93\x94"
        );
        assert_eq!(
            to_winansi("Œuvre œ Š š Ž ž Ÿ ™ …"),
            b"\x8Cuvre \x9C \x8A \x9A \x8E \x9E \x9F \x99 \x85"
        );
    }

    #[test]
    fn non_breaking_spaces_become_a0() {
        assert_eq!(to_winansi("1\u{202F}234,56\u{A0}€"), b"1\xA0234,56\xA0\x80");
        assert_eq!(to_winansi("a\u{2009}b"), b"a b");
    }

    #[test]
    fn unmappable_becomes_question_mark_and_controls_vanish() {
        assert_eq!(to_winansi("Ωx😀"), b"?x?");
        assert_eq!(to_winansi("a\u{0}b\u{7}c\r\n\td"), b"abc\n d");
        assert_eq!(to_winansi("👍🏽\u{FE0F}"), b"??");
        assert_eq!(to_winansi("zero\u{200B}width\u{AD}"), b"zerowidth");
    }

    #[test]
    fn decomposed_text_is_composed() {
        assert_eq!(to_winansi("e\u{301}le\u{300}ve"), b"\xE9l\xE8ve");
        assert_eq!(to_winansi("\u{301}x\u{30B}"), b"x");
    }

    #[test]
    fn latin_extended_a_keeps_base_letters() {
        assert_eq!(
            to_winansi("Łukasz Dvořák ĳs Ștefan"),
            b"Lukasz Dvor\xE1k ijs Stefan"
        );
    }
}
