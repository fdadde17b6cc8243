//! Customer documents as PDF: invoices, statements of account, annual
//! statements (jaaropgave), early-settlement quotes, contract copies and the
//! GDPR data report.
//!
//! # Model
//!
//! A [`Document`] is a flow of blocks (address, title, heading, paragraph,
//! note, label/value fields, table, chart, space) laid out top to bottom on A4
//! portrait pages with 20 mm side margins. Each block is laid out as soon as
//! it is added: it is measured, wrapped and split over pages, and its drawing
//! operations are kept in memory. [`Document::finish`] then knows the page
//! count, adds the footer ("Pagina 2 van 3") to every page and writes the PDF.
//!
//! The first page starts with the letterhead (brand name, then the given
//! lines). Every page ends with a footer: a caller-given text on the left
//! (reference, generation time) and the page label on the right, built from a
//! template such as `"Pagina {page} van {pages}"`. Table headers repeat after
//! a page break; a heading is never left alone at the bottom of a page.
//!
//! # Text
//!
//! Only the standard fonts Helvetica and Helvetica-Bold are used, with
//! WinAnsiEncoding, so nothing is embedded and every viewer has the fonts.
//! Text is converted by [`to_winansi`]: Dutch, French and German accents, the
//! euro sign, typographic quotes and dashes, bullets and non-breaking spaces
//! (U+00A0 and U+202F, as in French "1 234,56 €") are kept; characters
//! WinAnsi cannot show become `'?'`. Strings are written through `pdf-writer`,
//! which escapes them. Measuring uses the Adobe Core14 AFM advance widths (see
//! [`text_width`]), so wrapping, right-aligned amounts and truncation match
//! what the viewer draws. A non-breaking space is never a line-break point;
//! a word wider than its column is broken between characters.
//!
//! Extraction: the text of each line is drawn as one string in reading order,
//! so `pdftotext` (plain and `-layout`) returns it as written, accents and €
//! included.
//!
//! Every method is infallible and does not panic, whatever the input: empty
//! strings, endless words, thousands of rows (many pages), control
//! characters, emoji, non-finite numbers.
//!
//! # Metadata and accessibility
//!
//! The document information dictionary carries /Title, /Author, /Subject,
//! /Creator "carfin", /Producer and /CreationDate; the catalog carries /Lang
//! and the viewer preference DisplayDocTitle (viewers show the title, not the
//! file name). Content streams are Flate-compressed.
//!
//! # Why `pdf-writer`
//!
//! `pdf-writer` (from the typst project) is a small, pure-Rust, dependency-free
//! writer of PDF objects. With the 14 standard fonts there are no fonts to ship
//! or parse, so compile cost and binary size stay small. Higher-level crates
//! such as `printpdf` or `genpdf` pull in font parsers and shapers
//! (`ttf-parser`, `rusttype`, `lopdf`, …) that this use does not need; the
//! little layout needed here (wrapping, tables, page breaks) is this crate.
//!
//! # Example
//!
//! ```
//! use carfin_pdf::{Align, Column, Document, Footer, Letterhead, Meta};
//!
//! let mut doc = Document::new(
//!     Meta {
//!         title: "Factuur 2026-0042".into(),
//!         author: "Carfin Lease B.V.".into(),
//!         subject: "Factuur".into(),
//!         language: "nl".into(),
//!         created_unix: Some(1_795_078_800),
//!     },
//!     Letterhead {
//!         brand: "Carfin".into(),
//!         lines: vec!["Carfin Lease B.V.".into(), "Stationsplein 1, 3511 ED Utrecht".into()],
//!     },
//!     Footer {
//!         text: "Referentie INV-2026-0042".into(),
//!         page_template: "Pagina {page} van {pages}".into(),
//!     },
//! );
//! doc.address(&["J. de Vries".into(), "Kerkstraat 1".into(), "1234 AB Amsterdam".into()]);
//! doc.title("Factuur");
//! doc.fields(&[("Factuurnummer".into(), "2026-0042".into())]);
//! doc.table(
//!     &[
//!         Column { header: "Omschrijving".into(), width: 0.7, align: Align::Left },
//!         Column { header: "Bedrag".into(), width: 0.3, align: Align::Right },
//!     ],
//!     &[vec!["Leasetermijn november".into(), "€ 1.234,56".into()]],
//!     Some(vec!["Totaal".into(), "€ 1.234,56".into()]),
//! );
//! let bytes: Vec<u8> = doc.finish();
//! assert!(bytes.starts_with(b"%PDF-"));
//! ```

mod encoding;
mod metrics;

use std::io::Write as _;

use pdf_writer::types::LineJoinStyle;
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub use encoding::to_winansi;

/// Points per millimetre.
const MM: f32 = 72.0 / 25.4;
/// A4 portrait, in points.
const PAGE_W: f32 = 210.0 * MM;
const PAGE_H: f32 = 297.0 * MM;
const LEFT: f32 = 20.0 * MM;
const RIGHT: f32 = PAGE_W - 20.0 * MM;
const TEXT_W: f32 = RIGHT - LEFT;
/// Top of the content area.
const TOP: f32 = PAGE_H - 18.0 * MM;
/// Baseline of the footer line.
const FOOTER_BASELINE: f32 = 12.0 * MM;
/// Rule above the footer.
const FOOTER_RULE: f32 = FOOTER_BASELINE + 11.0;
/// Content never goes below this.
const BOTTOM: f32 = FOOTER_RULE + 10.0;
/// Height of the content area of an empty page.
const PAGE_CONTENT_H: f32 = TOP - BOTTOM;
/// Top of the address window of a window envelope (DL/EA5-6, left window),
/// measured from the top of the sheet, and the first position below it.
const ADDRESS_TOP: f32 = PAGE_H - 48.0 * MM;
const BELOW_WINDOW: f32 = PAGE_H - 92.0 * MM;
const ADDRESS_W: f32 = 85.0 * MM;
/// Helvetica cap height, in em.
const CAP_HEIGHT: f32 = 0.718;

type Rgb = (f32, f32, f32);
const INK: Rgb = (0.1, 0.1, 0.12);
const MUTED: Rgb = (0.38, 0.38, 0.4);
const BRAND: Rgb = (0.05, 0.22, 0.42);
const RULE: Rgb = (0.72, 0.72, 0.74);
const HAIRLINE: Rgb = (0.86, 0.86, 0.88);
const HEADER_FILL: Rgb = (0.92, 0.93, 0.95);
const GRID: Rgb = (0.88, 0.88, 0.9);

#[derive(Clone, Copy)]
struct Style {
    font: Font,
    size: f32,
    leading: f32,
    color: Rgb,
}

const BODY: Style = Style {
    font: Font::Regular,
    size: 10.0,
    leading: 14.0,
    color: INK,
};
const NOTE: Style = Style {
    font: Font::Regular,
    size: 8.5,
    leading: 11.5,
    color: MUTED,
};
const TITLE: Style = Style {
    font: Font::Bold,
    size: 17.0,
    leading: 22.0,
    color: INK,
};
const HEADING: Style = Style {
    font: Font::Bold,
    size: 12.0,
    leading: 16.0,
    color: INK,
};
const BRAND_STYLE: Style = Style {
    font: Font::Bold,
    size: 20.0,
    leading: 24.0,
    color: BRAND,
};
const LETTERHEAD_LINE: Style = Style {
    font: Font::Regular,
    size: 8.5,
    leading: 11.0,
    color: MUTED,
};
const ADDRESS: Style = Style {
    font: Font::Regular,
    size: 10.0,
    leading: 13.5,
    color: INK,
};
const FIELD_LABEL: Style = Style {
    font: Font::Regular,
    size: 10.0,
    leading: 13.5,
    color: MUTED,
};
const FIELD_VALUE: Style = Style {
    font: Font::Regular,
    size: 10.0,
    leading: 13.5,
    color: INK,
};
const CELL: Style = Style {
    font: Font::Regular,
    size: 9.0,
    leading: 12.0,
    color: INK,
};
const CELL_HEADER: Style = Style {
    font: Font::Bold,
    size: 9.0,
    leading: 12.0,
    color: INK,
};
const CELL_TOTAL: Style = Style {
    font: Font::Bold,
    size: 9.0,
    leading: 12.0,
    color: INK,
};
const FOOTER_STYLE: Style = Style {
    font: Font::Regular,
    size: 7.5,
    leading: 10.0,
    color: MUTED,
};
const CHART_LABEL: Style = Style {
    font: Font::Regular,
    size: 7.5,
    leading: 10.0,
    color: MUTED,
};

/// Horizontal padding inside a table cell.
const CELL_PAD_X: f32 = 4.0;
/// Longer column headers are cut short with "…".
const MAX_HEADER_LINES: usize = 3;
/// Vertical padding above and below the text of a table row.
const CELL_PAD_Y: f32 = 3.0;

/// Document metadata, written to the PDF information dictionary and catalog.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// /Title; viewers show it in the title bar (DisplayDocTitle).
    pub title: String,
    /// /Author, typically the legal entity.
    pub author: String,
    /// /Subject, e.g. "Jaaropgave 2026".
    pub subject: String,
    /// Natural language of the text for /Lang on the catalog (BCP 47, e.g.
    /// "nl", "fr-BE"); omitted when empty.
    pub language: String,
    /// /CreationDate as Unix seconds (UTC); `None` takes the system clock.
    pub created_unix: Option<i64>,
}

/// Letterhead at the top of the first page.
#[derive(Clone, Debug, Default)]
pub struct Letterhead {
    /// Brand name, drawn large and bold; skipped when empty.
    pub brand: String,
    /// Lines below the brand: legal entity, address, registration numbers,
    /// contact. Long lines wrap.
    pub lines: Vec<String>,
}

/// Footer on every page.
#[derive(Clone, Debug, Default)]
pub struct Footer {
    /// Left part, e.g. "Referentie DOC-… · gegenereerd 21-11-2026 10:00 CET".
    /// Shortened with "…" when it would run into the page label.
    pub text: String,
    /// Right part; `{page}` and `{pages}` are replaced by the page number and
    /// the page count, e.g. "Pagina {page} van {pages}". Empty: no label.
    pub page_template: String,
}

/// Horizontal alignment of a table column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table column.
#[derive(Clone, Debug)]
pub struct Column {
    pub header: String,
    /// Fraction of the text width (about 170 mm). Fractions that add up to
    /// more than 1 are scaled down; a non-positive or non-finite fraction
    /// counts as 0; if all are 0 the columns share the width equally.
    pub width: f32,
    pub align: Align,
}

/// The two fonts used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

impl Font {
    fn widths(self) -> &'static [u16; 256] {
        match self {
            Font::Regular => &metrics::HELVETICA,
            Font::Bold => &metrics::HELVETICA_BOLD,
        }
    }

    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

/// Width in points of `text` set in `font` at `size` points, as the viewer
/// draws it (after conversion with [`to_winansi`]; no kerning is applied).
pub fn text_width(text: &str, font: Font, size: f32) -> f32 {
    encoded_width(&to_winansi(text), font, size)
}

fn units(bytes: &[u8], font: Font) -> u64 {
    let widths = font.widths();
    bytes
        .iter()
        .map(|&b| u64::from(widths[usize::from(b)]))
        .sum()
}

fn encoded_width(bytes: &[u8], font: Font, size: f32) -> f32 {
    units(bytes, font) as f32 * size / 1000.0
}

/// Splits encoded text into lines no wider than `width` points: `'\n'` forces
/// a break, lines break at ASCII spaces (never at 0xA0), runs of spaces
/// collapse, and a word wider than `width` is cut between characters (at
/// least one character per line, so this always terminates). Always returns
/// at least one line.
fn wrap(bytes: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let widths = font.widths();
    let limit = if width.is_finite() && width > 0.0 && size > 0.0 {
        f64::from(width) * 1000.0 / f64::from(size) + 1e-3
    } else {
        0.0
    };
    let fits = |u: u64| (u as f64) <= limit;
    let space = u64::from(widths[usize::from(b' ')]);
    let mut lines = Vec::new();
    for hard in bytes.split(|&b| b == b'\n') {
        let mut line: Vec<u8> = Vec::new();
        let mut line_units = 0u64;
        for word in hard.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let word_units = units(word, font);
            if line.is_empty() && fits(word_units) {
                line.extend_from_slice(word);
                line_units = word_units;
                continue;
            }
            if !line.is_empty() && fits(line_units + space + word_units) {
                line.push(b' ');
                line.extend_from_slice(word);
                line_units += space + word_units;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_units = 0;
                if fits(word_units) {
                    line.extend_from_slice(word);
                    line_units = word_units;
                    continue;
                }
            }
            // A word wider than the line: cut it between characters.
            for &b in word {
                let w = u64::from(widths[usize::from(b)]);
                if !line.is_empty() && !fits(line_units + w) {
                    lines.push(std::mem::take(&mut line));
                    line_units = 0;
                }
                line.push(b);
                line_units += w;
            }
        }
        lines.push(line);
    }
    lines
}

/// Encoded text on one line: line breaks become spaces.
fn one_line(text: &str) -> Vec<u8> {
    let mut bytes = to_winansi(text);
    for b in &mut bytes {
        if *b == b'\n' {
            *b = b' ';
        }
    }
    bytes
}

/// Shortens `bytes` with a trailing "…" so that it fits `width`.
fn truncate(bytes: Vec<u8>, font: Font, size: f32, width: f32) -> Vec<u8> {
    if encoded_width(&bytes, font, size) <= width {
        return bytes;
    }
    ellipsize(bytes, font, size, width)
}

/// Appends "…" to `bytes`, shortening them so that the result fits `width`.
fn ellipsize(mut bytes: Vec<u8>, font: Font, size: f32, width: f32) -> Vec<u8> {
    let ellipsis = encoded_width(&[0x85], font, size);
    let mut used = 0.0;
    let mut keep = 0;
    for &b in &bytes {
        let w = encoded_width(&[b], font, size);
        if used + w + ellipsis > width {
            break;
        }
        used += w;
        keep += 1;
    }
    bytes.truncate(keep);
    while bytes.last() == Some(&b' ') {
        bytes.pop();
    }
    bytes.push(0x85);
    bytes
}

/// Baseline of a line of text vertically centred in a line box whose top is
/// `top`.
fn baseline(top: f32, style: &Style) -> f32 {
    top - (style.leading + CAP_HEIGHT * style.size) / 2.0
}

fn finite_or(value: f32, fallback: f32) -> f32 {
    if value.is_finite() {
        value
    } else {
        fallback
    }
}

enum Op {
    Text {
        x: f32,
        y: f32,
        style: Style,
        bytes: Vec<u8>,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
        color: Rgb,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Polyline {
        points: Vec<(f32, f32)>,
        width: f32,
        color: Rgb,
    },
}

impl Op {
    fn is_finite(&self) -> bool {
        let ok = |p: &(f32, f32)| p.0.is_finite() && p.1.is_finite();
        match self {
            Op::Text { x, y, .. } => ok(&(*x, *y)),
            Op::Line { from, to, .. } => ok(from) && ok(to),
            Op::Fill { x, y, w, h, .. } => ok(&(*x, *y)) && ok(&(*w, *h)),
            Op::Polyline { points, .. } => points.iter().all(ok),
        }
    }
}

#[derive(Default)]
struct Page {
    ops: Vec<Op>,
}

/// A document being laid out; see the crate documentation.
pub struct Document {
    meta: Meta,
    footer: Footer,
    pages: Vec<Page>,
    /// Top of the free space on the current page.
    y: f32,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("title", &self.meta.title)
            .field("pages", &self.pages.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// Starts a document; the letterhead is drawn at the top of page 1.
    pub fn new(meta: Meta, letterhead: Letterhead, footer: Footer) -> Document {
        let mut doc = Document {
            meta,
            footer,
            pages: vec![Page::default()],
            y: TOP,
        };
        let brand = to_winansi(letterhead.brand.trim());
        if !brand.is_empty() {
            doc.lines_block(&brand, &BRAND_STYLE, LEFT, TEXT_W);
        }
        for line in &letterhead.lines {
            doc.lines_block(&to_winansi(line), &LETTERHEAD_LINE, LEFT, TEXT_W);
        }
        if !brand.is_empty() || !letterhead.lines.is_empty() {
            doc.y -= 6.0;
            doc.rule_at(doc.y, 0.6, RULE);
            doc.y -= 14.0;
        }
        doc
    }

    /// Recipient block, as for a window envelope: on the first page it starts
    /// 48 mm from the top of the sheet, 20 mm from the left, at most 85 mm
    /// wide, and the content continues below the window (92 mm from the top).
    pub fn address(&mut self, lines: &[String]) {
        let first_page = self.pages.len() == 1;
        if first_page && self.y > ADDRESS_TOP {
            self.y = ADDRESS_TOP;
        }
        let mut wrapped = Vec::new();
        for line in lines {
            wrapped.extend(wrap(&one_line(line), ADDRESS.font, ADDRESS.size, ADDRESS_W));
        }
        self.draw_lines(&wrapped, &ADDRESS, LEFT, ADDRESS_W, Align::Left, 0.0, true);
        self.y -= 8.0 * MM;
        if first_page && self.pages.len() == 1 && self.y > BELOW_WINDOW {
            self.y = BELOW_WINDOW;
        }
    }

    /// Document title: large, bold.
    pub fn title(&mut self, text: &str) {
        self.gap(6.0);
        let lines = wrap(&to_winansi(text), TITLE.font, TITLE.size, TEXT_W);
        self.draw_lines(
            &lines,
            &TITLE,
            LEFT,
            TEXT_W,
            Align::Left,
            2.0 * BODY.leading,
            true,
        );
        self.y -= 8.0;
    }

    /// Section heading: bold, kept on the same page as the start of what follows.
    pub fn heading(&mut self, text: &str) {
        self.gap(10.0);
        let lines = wrap(&to_winansi(text), HEADING.font, HEADING.size, TEXT_W);
        self.draw_lines(
            &lines,
            &HEADING,
            LEFT,
            TEXT_W,
            Align::Left,
            3.0 * BODY.leading,
            true,
        );
        self.y -= 3.0;
    }

    /// Body text, wrapped to the text width; `'\n'` starts a new line and an
    /// empty line between two `'\n'` leaves a blank line.
    pub fn paragraph(&mut self, text: &str) {
        self.text_block(text, &BODY);
    }

    /// Smaller grey body text (remarks, legal notes), wrapped like a paragraph.
    pub fn note(&mut self, text: &str) {
        self.text_block(text, &NOTE);
    }

    /// Label/value pairs in two columns (labels grey on the left, values on
    /// the right). Both wrap; a pair stays on one page when it fits.
    pub fn fields(&mut self, rows: &[(String, String)]) {
        if rows.is_empty() {
            return;
        }
        let widest = rows
            .iter()
            .map(|(label, _)| encoded_width(&one_line(label), FIELD_LABEL.font, FIELD_LABEL.size))
            .fold(0.0f32, f32::max);
        let label_w = (widest + 14.0).clamp(0.25 * TEXT_W, 0.4 * TEXT_W);
        let value_w = TEXT_W - label_w;
        let leading = FIELD_VALUE.leading;
        for (label, value) in rows {
            let labels = wrap(
                &one_line(label),
                FIELD_LABEL.font,
                FIELD_LABEL.size,
                label_w - 10.0,
            );
            let values = wrap(
                &to_winansi(value),
                FIELD_VALUE.font,
                FIELD_VALUE.size,
                value_w,
            );
            let n = labels.len().max(values.len());
            let height = n as f32 * leading;
            if height <= PAGE_CONTENT_H {
                self.ensure(height);
            }
            for i in 0..n {
                self.ensure(leading);
                if let Some(line) = labels.get(i) {
                    self.text_at(
                        LEFT,
                        baseline(self.y, &FIELD_LABEL),
                        &FIELD_LABEL,
                        line.clone(),
                    );
                }
                if let Some(line) = values.get(i) {
                    let x = LEFT + label_w;
                    self.text_at(
                        x,
                        baseline(self.y, &FIELD_VALUE),
                        &FIELD_VALUE,
                        line.clone(),
                    );
                }
                self.y -= leading;
            }
            self.y -= 1.5;
        }
        self.y -= 6.0;
    }

    /// A table: a shaded header row (repeated at the top of each page the
    /// table continues on), one row per entry of `rows` with thin rules in
    /// between, and an optional bold total row with a rule above it. Cells
    /// wrap within their column; missing cells are empty, surplus cells are
    /// ignored. Right-aligned cells end exactly at the column's right padding.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<String>], total: Option<Vec<String>>) {
        if columns.is_empty() {
            return;
        }
        let widths = column_widths(columns);
        let table = TableLayout {
            columns,
            widths: &widths,
        };
        let header: Vec<String> = columns.iter().map(|c| c.header.clone()).collect();
        let mut header_cells = table.cells(&header, &CELL_HEADER);
        for (cell, width) in header_cells.iter_mut().zip(&widths) {
            if cell.len() > MAX_HEADER_LINES {
                cell.truncate(MAX_HEADER_LINES);
                if let Some(last) = cell.last_mut() {
                    let room = width - 2.0 * CELL_PAD_X;
                    *last = ellipsize(
                        std::mem::take(last),
                        CELL_HEADER.font,
                        CELL_HEADER.size,
                        room,
                    );
                }
            }
        }
        let header_h = row_height(&header_cells, &CELL_HEADER);

        self.gap(4.0);
        // Keep the header with the first row.
        let first_h = rows
            .first()
            .or(total.as_ref())
            .map(|row| row_height(&table.cells(row, &CELL), &CELL))
            .unwrap_or(0.0);
        if header_h + first_h <= PAGE_CONTENT_H {
            self.ensure(header_h + first_h);
        }
        self.table_header(&table, &header_cells, header_h);

        for row in rows {
            let cells = table.cells(row, &CELL);
            self.table_row(&table, &cells, &CELL, &header_cells, header_h, false);
        }
        if let Some(total) = total {
            let cells = table.cells(&total, &CELL_TOTAL);
            self.table_row(&table, &cells, &CELL_TOTAL, &header_cells, header_h, true);
        }
        self.y -= 10.0;
    }

    /// A line chart (e.g. remaining debt over time): the polyline through
    /// `points` (data coordinates), axes, horizontal grid lines at the
    /// `y_labels` values and tick labels at the given data values. `height` is
    /// the plot height in points (clamped to 60..=400). Non-finite points are
    /// skipped.
    pub fn line_chart(
        &mut self,
        points: &[(f32, f32)],
        x_labels: &[(f32, String)],
        y_labels: &[(f32, String)],
        height: f32,
    ) {
        let height = finite_or(height, 160.0).clamp(60.0, 400.0);
        let points: Vec<(f32, f32)> = points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let x_labels: Vec<(f32, Vec<u8>)> = x_labels
            .iter()
            .filter(|(v, _)| v.is_finite())
            .map(|(v, s)| {
                (
                    *v,
                    truncate(one_line(s), CHART_LABEL.font, CHART_LABEL.size, 80.0),
                )
            })
            .collect();
        let y_labels: Vec<(f32, Vec<u8>)> = y_labels
            .iter()
            .filter(|(v, _)| v.is_finite())
            .map(|(v, s)| {
                (
                    *v,
                    truncate(one_line(s), CHART_LABEL.font, CHART_LABEL.size, 120.0),
                )
            })
            .collect();
        let range = |values: &mut dyn Iterator<Item = f32>| {
            let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if !(lo.is_finite() && hi.is_finite()) {
                (0.0, 1.0)
            } else if hi - lo <= f32::EPSILON * hi.abs().max(1.0) {
                (lo - 1.0, hi + 1.0)
            } else {
                (lo, hi)
            }
        };
        let (x_min, x_max) = range(
            &mut points
                .iter()
                .map(|p| p.0)
                .chain(x_labels.iter().map(|l| l.0)),
        );
        let (y_min, y_max) = range(
            &mut points
                .iter()
                .map(|p| p.1)
                .chain(y_labels.iter().map(|l| l.0)),
        );

        let label_w = y_labels
            .iter()
            .map(|(_, s)| encoded_width(s, CHART_LABEL.font, CHART_LABEL.size))
            .fold(0.0f32, f32::max);
        let plot_left = LEFT + label_w + 6.0;
        let plot_right = RIGHT - 4.0;
        let total_h = height + 12.0 + CHART_LABEL.leading + 6.0;
        self.gap(6.0);
        self.ensure(total_h);
        let plot_top = self.y - 4.0;
        let plot_bottom = plot_top - height;
        let sx = |x: f32| plot_left + (x - x_min) / (x_max - x_min) * (plot_right - plot_left);
        let sy = |y: f32| plot_bottom + (y - y_min) / (y_max - y_min) * height;

        for (v, label) in &y_labels {
            let y = sy(*v);
            self.push(Op::Line {
                from: (plot_left, y),
                to: (plot_right, y),
                width: 0.4,
                color: GRID,
            });
            let w = encoded_width(label, CHART_LABEL.font, CHART_LABEL.size);
            let base = y - CAP_HEIGHT * CHART_LABEL.size / 2.0;
            self.text_at(plot_left - 6.0 - w, base, &CHART_LABEL, label.clone());
        }
        self.push(Op::Line {
            from: (plot_left, plot_top),
            to: (plot_left, plot_bottom),
            width: 0.7,
            color: MUTED,
        });
        self.push(Op::Line {
            from: (plot_left, plot_bottom),
            to: (plot_right, plot_bottom),
            width: 0.7,
            color: MUTED,
        });
        for (v, label) in &x_labels {
            let x = sx(*v);
            self.push(Op::Line {
                from: (x, plot_bottom),
                to: (x, plot_bottom - 3.0),
                width: 0.7,
                color: MUTED,
            });
            let w = encoded_width(label, CHART_LABEL.font, CHART_LABEL.size);
            let left = (x - w / 2.0).clamp(LEFT, (RIGHT - w).max(LEFT));
            let base = plot_bottom - 9.0 - CHART_LABEL.size;
            self.text_at(left, base, &CHART_LABEL, label.clone());
        }
        if points.len() >= 2 {
            let mapped = points.iter().map(|&(x, y)| (sx(x), sy(y))).collect();
            self.push(Op::Polyline {
                points: mapped,
                width: 1.6,
                color: BRAND,
            });
        }
        self.y -= total_h;
        self.y -= 6.0;
    }

    /// A thin horizontal rule across the text width.
    pub fn rule(&mut self) {
        self.gap(4.0);
        self.ensure(8.0);
        self.y -= 4.0;
        self.rule_at(self.y, 0.5, RULE);
        self.y -= 4.0;
    }

    /// Vertical space in points (negative or non-finite counts as 0); space
    /// that does not fit ends the page.
    pub fn space(&mut self, points: f32) {
        let points = finite_or(points, 0.0).clamp(0.0, PAGE_CONTENT_H);
        if self.y - points < BOTTOM {
            self.new_page();
        } else {
            self.y -= points;
        }
    }

    /// Continues on a new page (no-op at the top of an empty page).
    pub fn page_break(&mut self) {
        if !self.at_page_top() {
            self.new_page();
        }
    }

    /// Number of pages laid out so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Adds the footers and writes the PDF.
    pub fn finish(mut self) -> Vec<u8> {
        let total = self.pages.len();
        let footer_text = one_line(&self.footer.text);
        let template = self.footer.page_template.clone();
        for (index, page) in self.pages.iter_mut().enumerate() {
            add_footer(page, &footer_text, &template, index + 1, total);
        }
        write_pdf(&self.meta, &self.pages)
    }

    // ----- layout helpers -------------------------------------------------

    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Records a drawing operation; operations with non-finite coordinates
    /// (only possible from extreme chart data) are dropped.
    fn push(&mut self, op: Op) {
        if op.is_finite() {
            self.page().ops.push(op);
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = TOP;
    }

    fn at_page_top(&self) -> bool {
        self.y >= TOP - 0.01
    }

    /// Makes sure `height` points are free below the cursor, starting a new
    /// page if not (unless the page is still empty).
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM && !self.at_page_top() {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Space before a block, except at the top of a page.
    fn gap(&mut self, points: f32) {
        if !self.at_page_top() {
            self.y -= points;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, style: &Style, bytes: Vec<u8>) {
        if bytes.iter().all(|&b| b == b' ' || b == 0xA0) {
            return;
        }
        self.push(Op::Text {
            x,
            y,
            style: *style,
            bytes,
        });
    }

    fn rule_at(&mut self, y: f32, width: f32, color: Rgb) {
        self.push(Op::Line {
            from: (LEFT, y),
            to: (RIGHT, y),
            width,
            color,
        });
    }

    fn text_block(&mut self, text: &str, style: &Style) {
        let lines = wrap(&to_winansi(text), style.font, style.size, TEXT_W);
        self.draw_lines(&lines, style, LEFT, TEXT_W, Align::Left, 0.0, false);
        self.y -= style.leading * 0.45;
    }

    fn lines_block(&mut self, bytes: &[u8], style: &Style, x: f32, width: f32) {
        let lines = wrap(bytes, style.font, style.size, width);
        self.draw_lines(&lines, style, x, width, Align::Left, 0.0, true);
    }

    /// Draws wrapped lines. `keep_with_next` extra points must fit below the
    /// block on the same page; `keep_together` keeps the whole block on one
    /// page when it fits one (otherwise, and for paragraphs, at least the
    /// first two lines stay together).
    #[allow(clippy::too_many_arguments)]
    fn draw_lines(
        &mut self,
        lines: &[Vec<u8>],
        style: &Style,
        x: f32,
        width: f32,
        align: Align,
        keep_with_next: f32,
        keep_together: bool,
    ) {
        let n = lines.len();
        let block = if keep_together || n <= 3 { n } else { 2 };
        let needed = block as f32 * style.leading + keep_with_next;
        if needed <= PAGE_CONTENT_H {
            self.ensure(needed);
        }
        for line in lines {
            self.ensure(style.leading);
            let lx = match align {
                Align::Left => x,
                Align::Right => x + width - encoded_width(line, style.font, style.size),
            };
            self.text_at(lx, baseline(self.y, style), style, line.clone());
            self.y -= style.leading;
        }
    }

    fn table_header(&mut self, table: &TableLayout<'_>, cells: &[Vec<Vec<u8>>], height: f32) {
        let top = self.y;
        self.push(Op::Fill {
            x: LEFT,
            y: top - height,
            w: table.total_width(),
            h: height,
            color: HEADER_FILL,
        });
        self.draw_cells(table, cells, &CELL_HEADER, top, 0..usize::MAX);
        self.y -= height;
        self.push(Op::Line {
            from: (LEFT, self.y),
            to: (LEFT + table.total_width(), self.y),
            width: 0.6,
            color: RULE,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn table_row(
        &mut self,
        table: &TableLayout<'_>,
        cells: &[Vec<Vec<u8>>],
        style: &Style,
        header_cells: &[Vec<Vec<u8>>],
        header_h: f32,
        is_total: bool,
    ) {
        let n = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let lines_fitting = |y: f32| {
            ((y - BOTTOM - 2.0 * CELL_PAD_Y) / style.leading)
                .floor()
                .max(0.0) as usize
        };
        let fresh = lines_fitting(TOP - header_h).max(1);
        let mut start = 0;
        let mut just_broke = false;
        while start < n {
            let remaining = n - start;
            let fit = lines_fitting(self.y);
            let take = if fit >= remaining {
                remaining
            } else if (fit >= 1 && remaining > fresh) || just_broke {
                // Taller than a page: split the row over pages.
                fit.max(1)
            } else {
                self.new_page();
                self.table_header(table, header_cells, header_h);
                just_broke = true;
                continue;
            };
            let width = table.total_width();
            if is_total && start == 0 {
                self.push(Op::Line {
                    from: (LEFT, self.y),
                    to: (LEFT + width, self.y),
                    width: 1.0,
                    color: INK,
                });
            }
            let top = self.y;
            self.draw_cells(table, cells, style, top, start..start + take);
            self.y -= take as f32 * style.leading + 2.0 * CELL_PAD_Y;
            start += take;
            if !is_total {
                self.push(Op::Line {
                    from: (LEFT, self.y),
                    to: (LEFT + width, self.y),
                    width: 0.4,
                    color: HAIRLINE,
                });
            }
            if start < n {
                self.new_page();
                self.table_header(table, header_cells, header_h);
                just_broke = true;
            }
        }
    }

    /// Draws lines `range` of every cell, the first of them in the line box
    /// starting `CELL_PAD_Y` below `top`.
    fn draw_cells(
        &mut self,
        table: &TableLayout<'_>,
        cells: &[Vec<Vec<u8>>],
        style: &Style,
        top: f32,
        range: std::ops::Range<usize>,
    ) {
        let mut left = LEFT;
        for ((cell, width), column) in cells.iter().zip(table.widths).zip(table.columns) {
            for (k, line) in cell.iter().enumerate().skip(range.start).take(range.len()) {
                let line_top = top - CELL_PAD_Y - (k - range.start) as f32 * style.leading;
                let x = match column.align {
                    Align::Left => left + CELL_PAD_X,
                    Align::Right => {
                        left + width - CELL_PAD_X - encoded_width(line, style.font, style.size)
                    }
                };
                self.text_at(x, baseline(line_top, style), style, line.clone());
            }
            left += width;
        }
    }
}

struct TableLayout<'a> {
    columns: &'a [Column],
    widths: &'a [f32],
}

impl TableLayout<'_> {
    fn total_width(&self) -> f32 {
        self.widths.iter().sum()
    }

    /// Wrapped lines of each cell of `row` (one entry per column).
    fn cells(&self, row: &[String], style: &Style) -> Vec<Vec<Vec<u8>>> {
        self.widths
            .iter()
            .enumerate()
            .map(|(i, width)| {
                let text = row.get(i).map(String::as_str).unwrap_or("");
                wrap(
                    &to_winansi(text),
                    style.font,
                    style.size,
                    width - 2.0 * CELL_PAD_X,
                )
            })
            .collect()
    }
}

fn row_height(cells: &[Vec<Vec<u8>>], style: &Style) -> f32 {
    let n = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    n as f32 * style.leading + 2.0 * CELL_PAD_Y
}

/// Column widths in points from the fractions (see [`Column::width`]).
fn column_widths(columns: &[Column]) -> Vec<f32> {
    let fractions: Vec<f32> = columns
        .iter()
        .map(|c| {
            if c.width.is_finite() && c.width > 0.0 {
                c.width
            } else {
                0.0
            }
        })
        .collect();
    let sum: f32 = fractions.iter().sum();
    if sum <= 0.0 || !sum.is_finite() {
        let share = TEXT_W / columns.len() as f32;
        return vec![share; columns.len()];
    }
    let scale = if sum > 1.0 { 1.0 / sum } else { 1.0 };
    fractions.iter().map(|f| f * scale * TEXT_W).collect()
}

fn add_footer(page: &mut Page, text: &[u8], template: &str, number: usize, total: usize) {
    let label = template
        .replace("{page}", &number.to_string())
        .replace("{pages}", &total.to_string());
    let label = truncate(
        one_line(&label),
        FOOTER_STYLE.font,
        FOOTER_STYLE.size,
        TEXT_W / 2.0,
    );
    let label_w = encoded_width(&label, FOOTER_STYLE.font, FOOTER_STYLE.size);
    page.ops.push(Op::Line {
        from: (LEFT, FOOTER_RULE),
        to: (RIGHT, FOOTER_RULE),
        width: 0.5,
        color: RULE,
    });
    let room = TEXT_W - label_w - if label.is_empty() { 0.0 } else { 12.0 };
    let text = truncate(text.to_vec(), FOOTER_STYLE.font, FOOTER_STYLE.size, room);
    if !text.is_empty() {
        page.ops.push(Op::Text {
            x: LEFT,
            y: FOOTER_BASELINE,
            style: FOOTER_STYLE,
            bytes: text,
        });
    }
    if !label.is_empty() {
        page.ops.push(Op::Text {
            x: RIGHT - label_w,
            y: FOOTER_BASELINE,
            style: FOOTER_STYLE,
            bytes: label,
        });
    }
}

/// Object number `n` as a reference; numbers are small in practice, the clamp
/// only keeps this total.
fn obj(n: usize) -> Ref {
    Ref::new(i32::try_from(n).unwrap_or(i32::MAX).max(1))
}

fn write_pdf(meta: &Meta, pages: &[Page]) -> Vec<u8> {
    let catalog_id = obj(1);
    let tree_id = obj(2);
    let info_id = obj(3);
    let regular_id = obj(4);
    let bold_id = obj(5);
    let page_id = |i: usize| obj(6 + 2 * i);
    let content_id = |i: usize| obj(7 + 2 * i);

    let mut pdf = Pdf::new();
    {
        let mut catalog = pdf.catalog(catalog_id);
        catalog.pages(tree_id);
        let lang = meta.language.trim();
        if !lang.is_empty() {
            catalog.lang(TextStr(lang));
        }
        catalog.viewer_preferences().display_doc_title(true);
        catalog.finish();
    }
    {
        let mut info = pdf.document_info(info_id);
        info.title(TextStr(&meta.title));
        info.author(TextStr(&meta.author));
        info.subject(TextStr(&meta.subject));
        info.creator(TextStr("carfin"));
        info.producer(TextStr("carfin-pdf (pdf-writer)"));
        info.creation_date(pdf_date(meta.created_unix.unwrap_or_else(now_unix)));
        info.finish();
    }
    for (id, name) in [
        (regular_id, &b"Helvetica"[..]),
        (bold_id, &b"Helvetica-Bold"[..]),
    ] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.pages(tree_id)
        .kids((0..pages.len()).map(page_id))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (i, page) in pages.iter().enumerate() {
        {
            let mut writer = pdf.page(page_id(i));
            writer.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            writer.parent(tree_id);
            writer.contents(content_id(i));
            let mut resources = writer.resources();
            resources
                .fonts()
                .pair(Font::Regular.resource(), regular_id)
                .pair(Font::Bold.resource(), bold_id);
            resources.finish();
            writer.finish();
        }
        let raw = render(page);
        match deflate(&raw) {
            Some(compressed) => {
                pdf.stream(content_id(i), &compressed)
                    .filter(Filter::FlateDecode);
            }
            None => {
                pdf.stream(content_id(i), &raw);
            }
        }
    }
    pdf.finish()
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn render(page: &Page) -> Vec<u8> {
    let mut content = Content::new();
    for op in &page.ops {
        match op {
            Op::Text { x, y, style, bytes } => {
                let (r, g, b) = style.color;
                content.begin_text();
                content.set_font(style.font.resource(), style.size);
                content.set_fill_rgb(r, g, b);
                content.set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y]);
                content.show(Str(bytes));
                content.end_text();
            }
            Op::Line {
                from,
                to,
                width,
                color,
            } => {
                content.save_state();
                content.set_stroke_rgb(color.0, color.1, color.2);
                content.set_line_width(*width);
                content.move_to(from.0, from.1);
                content.line_to(to.0, to.1);
                content.stroke();
                content.restore_state();
            }
            Op::Fill { x, y, w, h, color } => {
                content.save_state();
                content.set_fill_rgb(color.0, color.1, color.2);
                content.rect(*x, *y, *w, *h);
                content.fill_nonzero();
                content.restore_state();
            }
            Op::Polyline {
                points,
                width,
                color,
            } => {
                let mut iter = points.iter();
                if let Some(first) = iter.next() {
                    content.save_state();
                    content.set_stroke_rgb(color.0, color.1, color.2);
                    content.set_line_width(*width);
                    content.set_line_join(LineJoinStyle::RoundJoin);
                    content.move_to(first.0, first.1);
                    for p in iter {
                        content.line_to(p.0, p.1);
                    }
                    content.stroke();
                    content.restore_state();
                }
            }
        }
    }
    content.finish().into_vec()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// A PDF date (UTC) from Unix seconds.
fn pdf_date(unix: i64) -> Date {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Date::new(u16::try_from(year.clamp(0, 9999)).unwrap_or(0))
        .month(month)
        .day(day)
        .hour((secs / 3600) as u8)
        .minute((secs % 3600 / 60) as u8)
        .second((secs % 60) as u8)
        .utc_offset_hour(0)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe
        .saturating_add(era.saturating_mul(400))
        .saturating_add(i64::from(month <= 2));
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_match_the_afm_metrics() {
        // Helvetica: "Hello" = H 722 + e 556 + l 222 + l 222 + o 556 = 2278.
        assert!((text_width("Hello", Font::Regular, 10.0) - 22.78).abs() < 1e-4);
        // Helvetica-Bold: H 722 + e 556 + l 278 + l 278 + o 611 = 2445.
        assert!((text_width("Hello", Font::Bold, 10.0) - 24.45).abs() < 1e-4);
        // The euro sign, é and the NBSP are measured too.
        assert!(
            (text_width("€\u{202F}é", Font::Regular, 1000.0) - (556.0 + 278.0 + 556.0)).abs()
                < 1e-2
        );
        // Digits are tabular (all 556), which keeps amount columns tidy.
        assert_eq!(
            text_width("0123456789", Font::Regular, 1.0),
            text_width("8888888888", Font::Regular, 1.0)
        );
    }

    #[test]
    fn wrap_respects_width_and_breaks_long_words() {
        let text =
            to_winansi("De leasetermijn wordt elke maand op de eerste werkdag geïncasseerd.");
        let lines = wrap(&text, Font::Regular, 10.0, 120.0);
        assert!(lines.len() > 2);
        for line in &lines {
            assert!(encoded_width(line, Font::Regular, 10.0) <= 120.0 + 1e-3);
        }
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, text);

        let long = "x".repeat(500);
        let lines = wrap(long.as_bytes(), Font::Bold, 9.0, 50.0);
        assert!(lines.len() > 5);
        assert_eq!(lines.concat().len(), 500);
        // Zero width still terminates with one character per line.
        assert_eq!(wrap(b"abc", Font::Regular, 10.0, 0.0).len(), 3);
    }

    #[test]
    fn wrap_never_breaks_at_no_break_space() {
        let amount = to_winansi("Te betalen 1\u{202F}234\u{202F}567,89\u{A0}€");
        // Room for the amount alone but not for "betalen 1": a break at an
        // ordinary space would split the amount after "1".
        let width = encoded_width(b"1\xA0234\xA0567,89\xA0\x80", Font::Regular, 10.0) + 1.0;
        let lines = wrap(&amount, Font::Regular, 10.0, width);
        assert_eq!(
            lines,
            vec![
                b"Te betalen".to_vec(),
                b"1\xA0234\xA0567,89\xA0\x80".to_vec()
            ]
        );
    }

    #[test]
    fn truncate_adds_ellipsis_within_width() {
        let text = to_winansi("Referentie DOC-2026-000123 · gegenereerd 21-11-2026 10:00 CET");
        let short = truncate(text.clone(), Font::Regular, 8.0, 80.0);
        assert!(short.ends_with(&[0x85]));
        assert!(encoded_width(&short, Font::Regular, 8.0) <= 80.0);
        assert_eq!(truncate(text.clone(), Font::Regular, 8.0, 1000.0), text);
    }

    #[test]
    fn right_aligned_cells_share_their_right_edge() {
        // The x where a right-aligned amount ends is the same whatever its text.
        let columns = [
            Column {
                header: "Omschrijving".into(),
                width: 0.6,
                align: Align::Left,
            },
            Column {
                header: "Bedrag".into(),
                width: 0.4,
                align: Align::Right,
            },
        ];
        let mut doc = Document::new(Meta::default(), Letterhead::default(), Footer::default());
        let rows: Vec<Vec<String>> = [
            "€ 1,00",
            "€ 1.234,56",
            "€ 99.999,99",
            "1\u{202F}234,56\u{A0}€",
        ]
        .iter()
        .map(|a| vec!["x".to_string(), a.to_string()])
        .collect();
        doc.table(&columns, &rows, None);
        let ends: Vec<f32> = doc.pages[0]
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Text {
                    x, style, bytes, ..
                } if bytes.first() == Some(&0x80) || bytes.first() == Some(&b'1') => {
                    Some(x + encoded_width(bytes, style.font, style.size))
                }
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 4);
        for end in &ends {
            assert!((end - (RIGHT - CELL_PAD_X)).abs() < 1e-3, "{end}");
        }
    }

    fn texts_on(doc: &Document, page: usize) -> Vec<Vec<u8>> {
        doc.pages[page]
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Text { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn heading_is_not_left_alone_at_the_bottom_of_a_page() {
        let mut doc = Document::new(Meta::default(), Letterhead::default(), Footer::default());
        doc.paragraph("Eerste pagina.");
        doc.y = BOTTOM + 2.0 * BODY.leading;
        doc.heading("Kop");
        doc.paragraph("Tekst onder de kop.");
        assert_eq!(doc.page_count(), 2);
        assert_eq!(
            texts_on(&doc, 1),
            vec![b"Kop".to_vec(), b"Tekst onder de kop.".to_vec()]
        );
    }

    #[test]
    fn table_header_stays_with_the_first_row_and_repeats() {
        let columns = [Column {
            header: "Kolom".into(),
            width: 1.0,
            align: Align::Left,
        }];
        let mut doc = Document::new(Meta::default(), Letterhead::default(), Footer::default());
        doc.y = BOTTOM + 20.0;
        let rows: Vec<Vec<String>> = (0..100).map(|i| vec![format!("r{i}")]).collect();
        doc.table(&columns, &rows, None);
        assert!(
            texts_on(&doc, 0).is_empty(),
            "nothing left on the nearly full page"
        );
        for page in 1..doc.page_count() {
            assert_eq!(texts_on(&doc, page)[0], b"Kolom".to_vec());
        }
    }

    #[test]
    fn absurd_headers_and_chart_values_stay_bounded() {
        let columns = [Column {
            header: "kop ".repeat(5000),
            width: 0.01,
            align: Align::Right,
        }];
        let mut doc = Document::new(Meta::default(), Letterhead::default(), Footer::default());
        doc.table(&columns, &[vec!["a".into()], vec!["b".into()]], None);
        assert_eq!(doc.page_count(), 1);
        doc.line_chart(&[(-3e38, -3e38), (3e38, 3e38)], &[], &[], 100.0);
        let all_finite = doc.pages.iter().flat_map(|p| &p.ops).all(Op::is_finite);
        assert!(all_finite);
        for page in &doc.pages {
            assert!(!String::from_utf8_lossy(&render(page)).contains("NaN"));
        }
    }

    #[test]
    fn dates_convert_from_unix_seconds() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2026-11-21 is day 20_778.
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
        // Extreme values do not panic.
        let _ = pdf_date(i64::MAX);
        let _ = pdf_date(i64::MIN);
    }

    #[test]
    fn column_widths_are_sanitised() {
        let col = |w: f32| Column {
            header: String::new(),
            width: w,
            align: Align::Left,
        };
        let w = column_widths(&[col(0.5), col(1.5)]);
        assert!((w.iter().sum::<f32>() - TEXT_W).abs() < 1e-3);
        let w = column_widths(&[col(f32::NAN), col(-1.0)]);
        assert_eq!(w, vec![TEXT_W / 2.0; 2]);
        let w = column_widths(&[col(0.25)]);
        assert!((w[0] - TEXT_W * 0.25).abs() < 1e-3);
    }
}
