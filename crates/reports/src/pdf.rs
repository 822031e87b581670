//! The statement as a PDF: A4 pages of text in Helvetica (one of the fonts every PDF reader
//! has, so nothing is embedded) with the Windows-1252 encoding, so that `pdftotext` and
//! screen readers get the text back. No dates or ids of its own: the same statement gives the
//! same bytes.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use ringfence_wire::views::statement::StatementView;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const SIZE: f32 = 8.5;
const LEADING: f32 = 11.0;
/// Characters on a line before it wraps (Helvetica at 8.5 pt over the printable width).
const LINE_CHARS: usize = 110;

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
    out.into_iter().flat_map(|line| wrap(&line)).collect()
}

/// A line cut at spaces to at most [`LINE_CHARS`] characters (a word longer is cut).
fn wrap(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > LINE_CHARS {
            out.push(std::mem::take(&mut current));
            current.push_str("    ");
        }
        if !current.is_empty() && !current.ends_with("    ") {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
    out
}

/// Text in Windows-1252, the encoding the font is declared with; characters it lacks (Greek,
/// Cyrillic, CJK…) become `?` (the JSON and CSV keep them; a PDF with an embedded Unicode
/// font would too).
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
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
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// The statement as a PDF document.
pub fn render(view: &StatementView) -> Vec<u8> {
    let lines = lines(view);
    let per_page = ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[String]> = lines.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let info = Ref::new(4);
    let font_name = Name(b"F1");
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(5 + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
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
            content.show(Str(&encode(line)));
            content.next_line_using_leading();
        }
        let footer = format!("page {} of {}, statement of {} for {} to {}", index + 1, pages.len(), view.client.id, view.from, view.to);
        content.end_text();
        content.begin_text();
        content.set_font(font_name, 7.0);
        content.next_line(MARGIN, MARGIN / 2.0);
        content.show(Str(&encode(&footer)));
        content.end_text();
        let data = content.finish();
        pdf.stream(content_id, &data);
    }
    pdf.finish()
}
