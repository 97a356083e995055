internal import Crypto

/// What happened. The raw values are the wire and JSON Lines spelling and the first segment of a
/// topic, so they never contain a dot.
public enum EventKind: String, CaseIterable, Hashable, Comparable, Sendable {
    case visit
    case relationsEstablished = "relations_established"
    case agreementSigned = "agreement_signed"
    case agreementEnded = "agreement_ended"
    case aid
    case embassyClosed = "embassy_closed"
    case diplomatsExpelled = "diplomats_expelled"
    case ambassadorTerm = "ambassador_term"
    case invitation
    case other

    /// The CAMEO code political event datasets use for this kind, where one applies. A visit is one
    /// event here (CAMEO 042, made by the guest), never the 042/043 pair.
    public var defaultCAMEO: String? {
        switch self {
        case .visit: return "042"
        case .relationsEstablished: return "054"
        case .agreementSigned: return "057"
        case .agreementEnded: return "161"
        case .aid: return "070"
        case .embassyClosed: return "161"
        case .diplomatsExpelled: return "161"
        case .ambassadorTerm: return nil
        case .invitation: return "036"
        case .other: return nil
        }
    }

    public static func < (lhs: EventKind, rhs: EventKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where an event was read: the document, its section, and the line (and table row) it came from.
public struct Provenance: Hashable, Sendable {
    public var document: String
    public var section: String?
    public var line: Int?
    public var row: Int?

    public init(document: String, section: String? = nil, line: Int? = nil, row: Int? = nil) {
        self.document = document
        self.section = section
        self.line = line
        self.row = row
    }
}

/// One dated fact in the relations between two countries.
///
/// `from` and `to` give the direction: for a visit the guest's country to the host's; for other
/// kinds the acting country to the one acted upon (the sender of an ambassador to the receiver,
/// the country closing an embassy to the one it leaves).
public struct TimelineEvent: Hashable, Sendable {
    /// Content-derived: the same facts always give the same id (see `EventID`).
    public var id: String
    public var kind: EventKind
    public var date: EDTFDate
    public var from: CountryCode
    public var to: CountryCode
    public var guest: String?
    public var host: String?
    public var place: String?
    public var description: String?
    public var cameo: String?
    public var source: Provenance

    /// Builds an event and derives its id from its facts.
    public init(kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode,
                guest: String? = nil, host: String? = nil, place: String? = nil,
                description: String? = nil, cameo: String? = nil, source: Provenance) {
        self.init(id: EventID.derive(kind: kind, date: date, from: from, to: to, guest: guest, host: host, place: place),
                  kind: kind, date: date, from: from, to: to, guest: guest, host: host, place: place,
                  description: description, cameo: cameo ?? kind.defaultCAMEO, source: source)
    }

    /// Builds an event with an id given by its source.
    public init(id: String, kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode,
                guest: String?, host: String?, place: String?, description: String?, cameo: String?,
                source: Provenance) {
        self.id = id
        self.kind = kind
        self.date = date
        self.from = from
        self.to = to
        self.guest = guest
        self.host = host
        self.place = place
        self.description = description
        self.cameo = cameo
        self.source = source
    }

    /// The topic the event is published on: `kind.FROM.TO`, e.g. `visit.MN.KP`, so that a prefix
    /// subscription selects a kind (`visit`), a kind from one country (`visit.MN`) or one direction.
    public var topic: String { "\(kind.rawValue).\(from.rawValue).\(to.rawValue)" }

    /// The decade of the event's first year: 1950 for 1956, -50 for 44 BCE.
    public var decade: Int { Aggregation.decade(of: date.year) }
}

/// Content-derived event identifiers.
///
/// The id is the first 128 bits, in hex, of the SHA-256 of the event's identifying facts (kind,
/// EDTF date, direction, guest, host, place) after normalisation (case folded, whitespace
/// collapsed). Description and provenance are not part of it, so the same visit read from two
/// documents, or twice from one table, is one event.
public enum EventID {
    public static func derive(kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode,
                              guest: String?, host: String?, place: String?) -> String {
        var bytes = identifyingFacts(kind: kind, date: date, from: from, to: to)
        for text in [guest, host, place] {
            bytes.append(0x1F)
            appendNormalised(text, to: &bytes)
        }
        return SHA256.hash(data: bytes).withUnsafeBytes { hex($0.prefix(16)) }
    }

    /// The id of an event read from an event dataset such as GDELT, which reports one fact many
    /// times with varying actors' names and places: kind, date, direction and CAMEO code only (the
    /// fields of `derive` with guest, host and place empty, then the code). The same day, kind and
    /// direction read from another export file is the same event.
    public static func derive(kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode, cameo: String) -> String {
        var bytes = identifyingFacts(kind: kind, date: date, from: from, to: to)
        bytes += [0x1F, 0x1F, 0x1F, 0x1F]
        bytes.append(contentsOf: "cameo:\(cameo)".utf8)
        return SHA256.hash(data: bytes).withUnsafeBytes { hex($0.prefix(16)) }
    }

    /// Kind, EDTF date and direction, joined by U+001F, as bytes: what every id starts with.
    private static func identifyingFacts(kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96)
        bytes.append(contentsOf: kind.rawValue.utf8)
        bytes.append(0x1F)
        date.appendText(to: &bytes)
        bytes.append(0x1F)
        bytes.append(contentsOf: from.rawValue.utf8)
        bytes.append(0x1F)
        bytes.append(contentsOf: to.rawValue.utf8)
        return bytes
    }

    /// The SHA-256 of a string's UTF-8 bytes.
    public static func digest(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { Array(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }

    /// Lower-cased, with runs of whitespace collapsed to one space and the ends trimmed.
    public static func normalise(_ text: String?) -> String {
        guard let text else { return "" }
        if let ascii = normaliseASCII(text) { return ascii }
        return text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Appends `normalise(text)`'s UTF-8 to `bytes`.
    static func appendNormalised(_ text: String?, to bytes: inout [UInt8]) {
        guard let text else { return }
        let start = bytes.count
        if appendNormalisedASCII(text, to: &bytes) { return }
        bytes.removeSubrange(start...)
        bytes.append(contentsOf: normalise(text).utf8)
    }

    /// The same result for plain ASCII text, byte by byte (the common case, and many times faster
    /// than splitting on `Character`); nil for anything else.
    private static func normaliseASCII(_ text: String) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        guard appendNormalisedASCII(text, to: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the normalised form of ASCII text; false (with a partial append) at the first
    /// non-ASCII byte.
    private static func appendNormalisedASCII(_ text: String, to out: inout [UInt8]) -> Bool {
        let base = out.count
        var pendingSpace = false
        for byte in text.utf8 {
            guard byte < 0x80 else { return false }
            // ASCII whitespace as Character.isWhitespace sees it: tab, LF, VT, FF, CR, space.
            if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                pendingSpace = out.count > base
                continue
            }
            if pendingSpace {
                out.append(0x20)
                pendingSpace = false
            }
            out.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
        }
        return true
    }

    /// Whether a string may serve as an event id given by a source: 1 to 64 characters from
    /// `A-Z a-z 0-9 . _ : -`.
    public static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        return bytes.allSatisfy(isIDByte)
    }

    /// One of the bytes an id may hold: `A-Z a-z 0-9 . _ : -`.
    @inline(__always)
    static func isIDByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
    }

    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
