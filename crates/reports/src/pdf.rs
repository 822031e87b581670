//! The statement as a PDF: A4 pages of text, so that `pdftotext` and screen readers get the
//! text back. A statement whose every character has a code in Windows-1252 (nearly all) is
//! written in Helvetica, one of the fonts every PDF reader has, with nothing embedded; any
//! other (a name in Greek or Cyrillic, say) in DejaVu Sans, embedded as a subset of the glyphs
//! it uses (a CID font with a ToUnicode map). A character DejaVu Sans lacks (CJK, say) prints
//! as `?`; the JSON and CSV keep it. No dates or ids of its own: the same statement gives the
//! same bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pdf_writer::Filter;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use ringfence_wire::views::statement::StatementView;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const SIZE: f32 = 8.5;
const FOOTER_SIZE: f32 = 7.0;
const LEADING: f32 = 11.0;
/// How wide a line may be, in points, before it wraps.
const LINE_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// DejaVu Sans 2.37 (fonts/LICENSE-DejaVu.txt: Bitstream Vera licence, DejaVu changes in the
/// public domain), as Debian's fonts-dejavu-core ships it.
static FONT_FILE: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The embedded font, parsed once.
fn face() -> &'static ttf_parser::Face<'static> {
    static FACE: OnceLock<ttf_parser::Face<'static>> = OnceLock::new();
    FACE.get_or_init(|| ttf_parser::Face::parse(FONT_FILE, 0).expect("the embedded DejaVu Sans parses (a test checks it)"))
}

/// The glyph that shows a character, its advance in font units, and the character it shows
/// (`?` where the font has no glyph for the one asked).
#[derive(Debug, Clone, Copy)]
struct Shown {
    id: u16,
    advance: u16,
    shown: char,
}

/// Characters below this are looked up once a process.
const TABLED: u32 = 0x800;

fn glyph(c: char) -> Shown {
    static TABLE: OnceLock<Vec<Shown>> = OnceLock::new();
    let look_up = |c: char| {
        let face = face();
        let (id, shown) = match face.glyph_index(c) {
            Some(id) if id.0 != 0 => (id, c),
            _ => (face.glyph_index('?').unwrap_or_default(), '?'),
        };
        Shown { id: id.0, advance: face.glyph_hor_advance(id).unwrap_or(0), shown }
    };
    match TABLE.get_or_init(|| (0..TABLED).map(|code| look_up(char::from_u32(code).unwrap_or('?'))).collect()).get(c as usize) {
        Some(found) => *found,
        None => look_up(c),
    }
}

/// How wide `text` is at `size` points.
fn width(text: &str, size: f32) -> f32 {
    let units: u32 = text.chars().map(|c| u32::from(glyph(c).advance)).sum();
    units as f32 * size / f32::from(face().units_per_em())
}

/// The statement's text, line by line, as the PDF shows it.
pub fn lines(view: &StatementView) -> Vec<String> {
    let mut out = vec![format!("Statement of position: {}", view.casp.name)];
    let mut casp = Vec::new();
    if let Some(lei) = &view.casp.lei {
        casp.push(format!("LEI {lei}"));
    }
    if let Some(authorisation) = &view.casp.authorisation {
        casp.push(format!("authorisation {authorisation}"));
    }
    if !casp.is_empty() {
        out.push(casp.join(", "));
    }
    out.push(format!("Client {} ({}, {} segregation)", view.client.id, view.client.category, view.client.segregation));
    out.push(format!("Period {} to {}", view.from, view.to));
    out.push(format!("Produced at {} from journal entry {} (hash {})", view.produced_at, view.journal_seq, view.journal_head_hash));
    out.push(String::new());
    if view.assets.is_empty() {
        out.push("No crypto-asset positions in the period.".into());
    }
    for asset in &view.assets {
        let symbol = if asset.symbol.is_empty() { String::new() } else { format!(" {}", asset.symbol) };
        out.push(format!("{}{}", asset.asset, if symbol.is_empty() { String::new() } else { format!(" ({})", asset.symbol) }));
        out.push(format!("  Opening position: {}{symbol} ({} in the smallest unit)", asset.opening.decimal, asset.opening.amount));
        if asset.movements.is_empty() {
            out.push("  No movements in the period.".into());
        }
        for movement in &asset.movements {
            let instruction = movement.client_instruction.as_ref().map(|i| format!(", your instruction {i}")).unwrap_or_default();
            let chain = if movement.chain_transactions.is_empty() {
                String::new()
            } else {
                format!(", on chain {}", movement.chain_transactions.join(" "))
            };
            out.push(format!(
                "  {}  {} {}{symbol} ({}), reference {}{instruction}{chain}",
                movement.effective_at, movement.kind, movement.change.decimal, movement.change.amount, movement.reference
            ));
        }
        out.push(format!("  Closing position: {}{symbol} ({} in the smallest unit)", asset.closing.decimal, asset.closing.amount));
        for encumbered in &asset.encumbered {
            out.push(format!(
                "  of which encumbered for {} under your instruction {}: {}{symbol}",
                encumbered.purpose, encumbered.instruction, encumbered.amount.decimal
            ));
        }
        out.push(format!("  Free: {}{symbol}; rewards in the period: {}{symbol}", asset.free.decimal, asset.rewards.decimal));
        let custody = &asset.custody;
        let shares = match (&custody.hot_percent, &custody.cold_percent) {
            (Some(hot), Some(cold)) => format!("{hot} % hot, {cold} % cold"),
            _ => "nothing held".into(),
        };
        out.push(format!("  Held in the {}: {shares}", custody.segregation));
        for sub in &custody.sub_custodians {
            out.push(format!("  Sub-custodian: {} ({}, {})", sub.name, sub.basis, sub.reference));
        }
        out.push(String::new());
    }
    for fiat in &view.fiat {
        out.push(format!("Client funds in {}", fiat.currency));
        out.push(format!("  Opening: {}", fiat.opening.money));
        for event in &fiat.receipts {
            out.push(format!("  {}  received {}, reference {}", event.effective_at, event.amount.money, event.reference));
        }
        for event in &fiat.withdrawals {
            out.push(format!("  {}  withdrawn {}, reference {}", event.effective_at, event.amount.money, event.reference));
        }
        out.push(format!("  Closing: {}", fiat.closing.money));
        out.push(String::new());
    }
    let valuation = &view.valuation;
    out.push(format!("Valuation in {} at {} (prices at most {} old)", valuation.currency, valuation.at, valuation.max_price_age));
    for asset in &valuation.assets {
        match (&asset.value, &asset.price, &asset.not_valued) {
            (Some(value), Some(price), _) => out.push(format!(
                "  {}: {} at {} ({}, {}) = {}",
                asset.asset, asset.decimal, price.money, price.source, price.at, value.money
            )),
            (_, _, Some(why)) => out.push(format!("  {}: {} not valued: {}", asset.asset, asset.decimal, why.reason)),
            _ => out.push(format!("  {}: not valued", asset.asset)),
        }
    }
    let complete = if valuation.complete { "" } else { " (not complete: some assets are not valued)" };
    out.push(format!("  Total: {}{complete}", valuation.total.money));
    out.push(format!("  Values are {}.", valuation.rounding));
    out.into_iter().flat_map(|line| wrap(&plain(&line))).collect()
}

/// `line` without what would move or hide text in the PDF: directional formatting characters
/// (U+200E/F, U+061C, U+202A to U+202E, U+2066 to U+2069) dropped, other control characters
/// (a line break in a name, say) shown as a space. The JSON and CSV keep them.
fn plain(line: &str) -> String {
    line.chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A line cut at spaces so that each part fits [`LINE_WIDTH`], keeping its indentation, the
/// parts after the first indented further; a word wider than a line (a long reference or
/// address) is cut between characters.
fn wrap(line: &str) -> Vec<String> {
    let text = line.trim_start_matches(' ');
    let indent = &line[..line.len() - text.len()];
    let space = width(" ", SIZE);
    let continuation = format!("{indent}    ");
    let mut out = Vec::new();
    let mut current = indent.to_owned();
    let mut used = width(indent, SIZE);
    let mut empty = true;
    let mut next_line = |current: &mut String, used: &mut f32, empty: &mut bool| {
        out.push(std::mem::replace(current, continuation.clone()));
        *used = width(&continuation, SIZE);
        *empty = true;
    };
    for word in text.split(' ') {
        let wide = width(word, SIZE);
        if !empty && used + space + wide > LINE_WIDTH {
            next_line(&mut current, &mut used, &mut empty);
        }
        if !empty {
            current.push(' ');
            used += space;
        }
        if used + wide <= LINE_WIDTH {
            current.push_str(word);
            used += wide;
        } else {
            let mut buffer = [0u8; 4];
            for c in word.chars() {
                let wide = width(c.encode_utf8(&mut buffer), SIZE);
                if !empty && used + wide > LINE_WIDTH {
                    next_line(&mut current, &mut used, &mut empty);
                }
                current.push(c);
                used += wide;
                empty = false;
            }
        }
        empty = false;
    }
    out.push(current);
    out
}

/// The glyphs a document uses, each with the character it shows (for the ToUnicode map),
/// ascending: the subset numbers them in this order, so the same glyphs give the same font.
type GlyphSet = Vec<(u16, char)>;

fn glyph_set<'a>(texts: impl IntoIterator<Item = &'a str>) -> GlyphSet {
    let mut set = BTreeMap::new();
    for c in texts.into_iter().flat_map(str::chars) {
        let Shown { id, shown, .. } = glyph(c);
        set.entry(id).or_insert(shown);
    }
    set.into_iter().collect()
}

/// The font of a glyph set as a document embeds it: the subset (compressed, and its length
/// before), its name, the widths of its glyphs and its ToUnicode map, and each glyph's id in
/// it.
#[derive(Debug)]
struct Embedded {
    name: String,
    file: Vec<u8>,
    file_length: usize,
    widths: Vec<f32>,
    to_unicode: Vec<u8>,
    ids: HashMap<u16, u16>,
}

/// How many glyph sets' fonts a process keeps.
const EMBEDDED_KEPT: usize = 64;

/// Statements mostly use the same few glyph sets: each is subset once a process.
fn embedded(set: &GlyphSet) -> Arc<Embedded> {
    static MADE: OnceLock<Mutex<HashMap<GlyphSet, Arc<Embedded>>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    if let Some(found) = made.lock().unwrap_or_else(PoisonError::into_inner).get(set) {
        return Arc::clone(found);
    }
    let embedded = Arc::new(embed(set));
    let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
    if made.len() >= EMBEDDED_KEPT {
        made.clear();
    }
    made.insert(set.clone(), Arc::clone(&embedded));
    embedded
}

const SYSTEM: SystemInfo<'static> = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

fn embed(set: &GlyphSet) -> Embedded {
    let face = face();
    let scale = 1000.0 / f32::from(face.units_per_em());
    let remapper = subsetter::GlyphRemapper::new_from_glyphs(&set.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    // A subset is named with a tag of six capitals (PDF 32000-1 9.6.4), here from its glyphs
    // (FNV-1a), so the same glyphs give the same name.
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for (id, shown) in set {
        for byte in id.to_be_bytes().into_iter().chain(u32::from(*shown).to_be_bytes()) {
            seed = (seed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut name = String::new();
    for _ in 0..6 {
        name.push(char::from(b'A' + (seed % 26) as u8));
        seed /= 26;
    }
    name.push_str("+DejaVuSans");
    let subset = subsetter::subset(FONT_FILE, 0, &remapper).expect("the embedded DejaVu Sans subsets (a test checks it)");
    let mut cmap = UnicodeCmap::new(Name(b"Custom"), SYSTEM);
    let mut ids = HashMap::new();
    let mut widths = Vec::new();
    for (id, shown) in set {
        let new = remapper.get(*id).unwrap_or_default();
        ids.insert(*id, new);
        cmap.pair(new, *shown);
        widths.push(f32::from(face.glyph_hor_advance(ttf_parser::GlyphId(*id)).unwrap_or(0)) * scale);
    }
    Embedded { name, file: deflate(&subset, 9), file_length: subset.len(), widths, to_unicode: cmap.finish().to_vec(), ids }
}

impl Embedded {
    /// `text` as the subset's two-byte glyph ids (Identity-H).
    fn encode(&self, text: &str) -> Vec<u8> {
        text.chars().flat_map(|c| self.ids.get(&glyph(c).id).copied().unwrap_or_default().to_be_bytes()).collect()
    }
}

/// The statement as a PDF document.
pub fn render(view: &StatementView) -> Vec<u8> {
    let lines = lines(view);
    let per_page = ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[String]> = lines.chunks(per_page.max(1)).collect();
    let footers: Vec<String> = (0..pages.len())
        .map(|index| format!("page {} of {}, statement of {} for {} to {}", index + 1, pages.len(), view.client.id, view.from, view.to))
        .collect();
    let texts = || lines.iter().chain(&footers).map(String::as_str);
    let text = if texts().flat_map(str::chars).all(|c| win_ansi(c).is_some()) {
        Text::WinAnsi
    } else {
        Text::Embedded(embedded(&glyph_set(texts())))
    };
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let info = Ref::new(4);
    let (cid_font, descriptor, font_file, to_unicode) = (Ref::new(5), Ref::new(6), Ref::new(7), Ref::new(8));
    let first_page = if matches!(text, Text::WinAnsi) { 5 } else { 9 };
    let font_name = Name(b"F1");
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(first_page + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    let title = format!("Statement of position of {} from {} to {}", view.client.id, view.from, view.to);
    pdf.document_info(info).title(TextStr(&title)).creator(TextStr("ringfence")).producer(TextStr("ringfence"));
    for (index, page_lines) in pages.iter().enumerate() {
        let page_id = page_ids[index];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(font_name, font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(font_name, SIZE);
        content.set_leading(LEADING);
        content.next_line(MARGIN, PAGE_HEIGHT - MARGIN);
        for line in page_lines.iter() {
            content.show(Str(&text.encode(line)));
            content.next_line_using_leading();
        }
        content.end_text();
        content.begin_text();
        content.set_font(font_name, FOOTER_SIZE);
        content.next_line(MARGIN, MARGIN / 2.0);
        content.show(Str(&text.encode(&footers[index])));
        content.end_text();
        let data = content.finish();
        match &text {
            Text::WinAnsi => {
                pdf.stream(content_id, &data);
            }
            Text::Embedded(_) => {
                pdf.stream(content_id, &deflate(&data, 1)).filter(Filter::FlateDecode);
            }
        }
    }
    match &text {
        Text::WinAnsi => {
            pdf.type1_font(font).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        Text::Embedded(embedded) => write_font(&mut pdf, embedded, [font, cid_font, descriptor, font_file, to_unicode]),
    }
    pdf.finish()
}

/// How a document's text is written: in Helvetica with the Windows-1252 encoding when every
/// character of it has a code there (nothing embedded: as small and as quick to make as a PDF
/// gets, and what nearly every statement needs), else in the embedded DejaVu Sans.
enum Text {
    WinAnsi,
    Embedded(Arc<Embedded>),
}

impl Text {
    fn encode(&self, text: &str) -> Vec<u8> {
        match self {
            Text::WinAnsi => text.chars().map(|c| win_ansi(c).unwrap_or(b'?')).collect(),
            Text::Embedded(embedded) => embedded.encode(text),
        }
    }
}

/// `c`'s code in Windows-1252, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        '‰' => 0x89,
        'Š' => 0x8A,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '™' => 0x99,
        'š' => 0x9A,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        c if (0x20..0x7F).contains(&(c as u32)) || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
        _ => return None,
    })
}

/// `data` compressed for a FlateDecode stream (zlib at `level`: the same bytes every time):
/// each page's text quickly, the font, made once a glyph set, as small as it goes.
fn deflate(data: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, level)
}

/// The font as the document uses it: a Type 0 font over a CID font of the subset, its widths
/// and descriptor, and the map from its glyphs back to text.
fn write_font(pdf: &mut Pdf, embedded: &Embedded, [font, cid_font, descriptor, font_file, to_unicode]: [Ref; 5]) {
    let face = face();
    let scale = 1000.0 / f32::from(face.units_per_em());
    let name = Name(embedded.name.as_bytes());
    pdf.type0_font(font).base_font(name).encoding_predefined(Name(b"Identity-H")).descendant_font(cid_font).to_unicode(to_unicode);
    let mut cid = pdf.cid_font(cid_font);
    cid.subtype(CidFontType::Type2).base_font(name).system_info(SYSTEM).font_descriptor(descriptor);
    cid.cid_to_gid_map_predefined(Name(b"Identity"));
    // The subset numbers the set's glyphs from 1 (0 is .notdef), in the set's order.
    cid.widths().consecutive(1, embedded.widths.iter().copied());
    cid.finish();
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            f32::from(bbox.x_min) * scale,
            f32::from(bbox.y_min) * scale,
            f32::from(bbox.x_max) * scale,
            f32::from(bbox.y_max) * scale,
        ))
        .italic_angle(0.0)
        .ascent(f32::from(face.ascender()) * scale)
        .descent(f32::from(face.descender()) * scale)
        .cap_height(f32::from(face.capital_height().unwrap_or(face.ascender())) * scale)
        .stem_v(80.0)
        .font_file2(font_file);
    pdf.stream(font_file, &embedded.file)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), i32::try_from(embedded.file_length).unwrap_or(i32::MAX));
    pdf.cmap(to_unicode, &embedded.to_unicode);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_wider_than_a_line_is_cut_between_characters_and_nothing_passes_the_margin() {
        let reference = "x".repeat(400);
        let lines = wrap(&format!("  reference {reference} done"));
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|line| width(line, SIZE) <= LINE_WIDTH), "{lines:?}");
        assert_eq!(lines.concat().matches('x').count(), 400);
        assert!(lines[0].starts_with("  reference") && lines[1].starts_with("      x"), "{lines:?}");
        assert!(lines.last().unwrap().ends_with(" done"), "{lines:?}");
    }

    #[test]
    fn directional_and_control_characters_do_not_reach_the_page() {
        assert_eq!(plain("Acme\u{202e}gnp.exe\u{2066} Ltd\nline"), "Acmegnp.exe Ltd line");
    }

    /// Every character DejaVu Sans has in Latin (with Latin-1 and Extended-A/B), Greek and
    /// Cyrillic subsets and maps back to itself; one it lacks shows `?`'s glyph.
    #[test]
    fn the_embedded_font_subsets_every_latin_greek_and_cyrillic_glyph_and_maps_each_back() {
        let text: String =
            (0x20u32..0x250).chain(0x370..0x400).chain(0x400..0x500).filter_map(char::from_u32).filter(|c| !c.is_control()).collect();
        let set = glyph_set([text.as_str(), "東京"]);
        let missing: Vec<char> = text.chars().filter(|c| glyph(*c).shown != *c).collect();
        // Only the code points Unicode leaves unassigned in the Greek block.
        assert_eq!(missing, ['\u{378}', '\u{379}', '\u{380}', '\u{381}', '\u{382}', '\u{383}', '\u{38b}', '\u{38d}', '\u{3a2}']);
        let font = embed(&set);
        assert!(font.file_length > 0 && !font.file.is_empty());
        assert_eq!(font.widths.len(), set.len());
        // Each character is encoded as its own glyph, the unknown ones as `?`'s.
        let question = font.encode("?");
        assert_eq!(font.encode("東"), question);
        assert_ne!(font.encode("Ω"), question);
        assert_eq!(font.encode("Θά").len(), 4, "two bytes a glyph");
        // The same glyphs, whatever the order they came in, give the same font.
        let again = embed(&glyph_set(["東京", text.as_str()]));
        assert_eq!((again.name, again.file), (font.name, font.file));
    }

    #[test]
    fn a_line_wraps_by_its_width_and_keeps_its_indentation() {
        let long = format!("  {}", ["word"; 60].join(" "));
        let parts = wrap(&long);
        assert!(parts.len() > 1, "{parts:?}");
        assert!(parts[0].starts_with("  word") && parts[1].starts_with("      word"), "{parts:?}");
        assert!(parts.iter().all(|part| width(part, SIZE) <= LINE_WIDTH), "{parts:?}");
        assert_eq!(wrap("short"), ["short"]);
    }
}
