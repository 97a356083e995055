import Foundation

/// A `{| … |}` table of wikitext: its caption and rows of cells, before any cell is rendered.
struct WikitextTable {
    struct Cell {
        var line: Int
        var header: Bool
        /// The cell's content, without its attributes.
        var content: String
        var rowspan: Int
        var colspan: Int
    }

    struct Row {
        var cells: [Cell] = []
        /// The line of the row's first cell.
        var line: Int? { cells.first?.line }
        var isHeader: Bool { !cells.isEmpty && cells.allSatisfy(\.header) }
    }

    var line: Int
    var caption: String?
    var rows: [Row] = []
    /// Whether the table ended with `|}` (otherwise the page ended first).
    var closed = false
    /// The line of each table nested in a cell: skipped, not read.
    var nestedTables: [Int] = []

    /// Spans larger than these are cut to them (MediaWiki's own limit on colspan is 1,000).
    static let widestSpan = 64
    static let tallestSpan = 500
    /// Columns beyond this hold no cell.
    static let widestRow = 1_000

    /// Reads the table that opens at `lines[start]` (a `{|` line) up to its `|}`; `next` is the
    /// index of the first line after it.
    static func read(_ lines: [WikitextLine], from start: Int) -> (table: WikitextTable, next: Int) {
        var table = WikitextTable(line: lines[start].number)
        var row = Row()
        var index = start + 1
        while index < lines.count {
            let line = lines[index]
            let text = line.text.drop(while: { $0 == " " || $0 == "\t" })
            index += 1
            if text.hasPrefix("{|") {
                // A table inside a cell: skipped to its end.
                table.nestedTables.append(line.number)
                var depth = 1
                while index < lines.count, depth > 0 {
                    let inner = lines[index].text.drop(while: { $0 == " " || $0 == "\t" })
                    if inner.hasPrefix("{|") { depth += 1 } else if inner.hasPrefix("|}") { depth -= 1 }
                    index += 1
                }
                continue
            }
            if text.hasPrefix("|}") {
                table.closed = true
                break
            }
            if text.hasPrefix("|+") {
                let parts = cellParts(String(text.dropFirst(2)))
                table.caption = parts.content
                continue
            }
            if text.hasPrefix("|-") {
                if !row.cells.isEmpty { table.rows.append(row) }
                row = Row()
                continue
            }
            if text.hasPrefix("!") || text.hasPrefix("|") {
                let header = text.hasPrefix("!")
                for piece in split(String(text.dropFirst()), header: header) {
                    let parts = cellParts(piece)
                    let attributes = parts.attributes.lowercased()
                    row.cells.append(Cell(line: line.number, header: header, content: parts.content,
                                          rowspan: min(max(span("rowspan", in: attributes), 1), tallestSpan),
                                          colspan: min(max(span("colspan", in: attributes), 1), widestSpan)))
                }
                continue
            }
            // Any other line continues the cell before it.
            if !row.cells.isEmpty {
                row.cells[row.cells.count - 1].content += "\n" + text
            } else if table.caption != nil, table.rows.isEmpty {
                table.caption! += " " + text
            }
        }
        if !row.cells.isEmpty { table.rows.append(row) }
        return (table, index)
    }

    /// A cell line's cells: split at `||` (and `!!` on header lines) outside templates. As in
    /// MediaWiki, which expands templates before it reads tables, links do not protect a `||`,
    /// nor does a `{{` that is never closed.
    static func split(_ text: String, header: Bool) -> [String] {
        let characters = Array(text)
        var pieces: [String] = []
        var start = 0
        forEachTopLevel(characters, links: false, templates: WikitextReader.braceBalance(text) == 0) { index in
            let character = characters[index]
            guard index + 1 < characters.count, characters[index + 1] == character,
                  character == "|" || (header && character == "!") else { return 1 }
            pieces.append(String(characters[start..<index]))
            start = index + 2
            return 2
        }
        pieces.append(String(characters[start...]))
        return pieces
    }

    /// `style="…" | text` -> attributes and content; a cell without a top-level single `|` has no attributes.
    static func cellParts(_ cell: String) -> (attributes: String, content: String) {
        let characters = Array(cell)
        var pipe: Int?
        forEachTopLevel(characters, links: true, templates: true) { index in
            if pipe == nil, characters[index] == "|" { pipe = index }
            return pipe == nil ? 1 : characters.count
        }
        guard let pipe else { return ("", cell) }
        return (String(characters[..<pipe]), String(characters[(pipe + 1)...]))
    }

    /// Calls `visit` with each position outside `[[…]]` (when `links`) and `{{…}}` (when
    /// `templates`), counted, so an unclosed one runs to the end; `visit` returns how many
    /// characters to move on.
    static func forEachTopLevel(_ characters: [Character], links: Bool, templates: Bool, _ visit: (Int) -> Int) {
        var depth = 0
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if index + 1 < characters.count, characters[index + 1] == character,
               (templates && (character == "{" || character == "}")) || (links && (character == "[" || character == "]")) {
                if character == "{" || character == "[" { depth += 1; index += 2; continue }
                depth = max(0, depth - 1)
                index += 2
                continue
            }
            index += depth == 0 ? max(1, visit(index)) : 1
        }
    }

    /// The value of `rowspan=2`, `rowspan="2"` or `rowspan='2'` in lower-cased attributes; 1 when absent.
    static func span(_ name: String, in attributes: String) -> Int {
        guard let range = attributes.range(of: name) else { return 1 }
        var rest = attributes[range.upperBound...].drop(while: { $0 == " " })
        guard rest.first == "=" else { return 1 }
        rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\"" || $0 == "'" })
        let digits = rest.prefix(while: \.isASCIIDigit).prefix(6)
        return Int(digits) ?? 1
    }

    /// One row of the table laid out on the grid: the cells at each column, with the cells that
    /// rowspan and colspan carry into it.
    struct GridRow {
        var line: Int
        /// The index of the cell (in `cells`) at each column.
        var columns: [Int]
        /// Whether the row holds only header cells of its own.
        var isHeader: Bool
    }

    /// The rows laid out on a grid, spans resolved; `cells` lists every cell once, and grid rows refer to it.
    func grid() -> (rows: [GridRow], cells: [Cell]) {
        var cells: [Cell] = []
        var gridRows: [GridRow] = []
        // Column -> (cell index, rows still to cover).
        var carried: [Int: (cell: Int, remaining: Int)] = [:]
        for row in rows {
            guard let line = row.line else { continue }
            var columns: [Int: Int] = [:]
            for (column, span) in carried { columns[column] = span.cell }
            var next: [Int: (cell: Int, remaining: Int)] = [:]
            for (column, span) in carried where span.remaining > 1 { next[column] = (span.cell, span.remaining - 1) }
            var column = 0
            for cell in row.cells {
                while columns[column] != nil { column += 1 }
                // A row wider than any real table is cut there.
                guard column + cell.colspan <= Self.widestRow else { break }
                let index = cells.count
                cells.append(cell)
                for offset in 0..<cell.colspan {
                    columns[column + offset] = index
                    if cell.rowspan > 1 { next[column + offset] = (index, cell.rowspan - 1) }
                }
                column += cell.colspan
            }
            carried = next
            let width = min((columns.keys.max() ?? -1) + 1, Self.widestRow)
            // A column that no cell covers (a short row beside spans) holds no cell: -1.
            gridRows.append(GridRow(line: line, columns: (0..<width).map { columns[$0] ?? -1 }, isHeader: row.isHeader))
        }
        return (gridRows, cells)
    }
}
