import Testing
@testable import Timeline

/// Event ids and event keys are SHA-256 digests cut to 128 bits. Ids are persisted and compared
/// across versions, so these vectors (FIPS 180-4, and Python's hashlib for the rest) pin the bytes
/// that go in and the bits that come out.
@Suite("SHA-256 behind event ids and keys")
struct SHA256Tests {
    @Test("The digest of a text is its FIPS 180-4 test vector", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func textDigests(input: String, hex: String) {
        #expect(EventID.hex(EventID.digest(input)) == hex)
    }

    @Test("A derived id is the first 32 hex digits of the SHA-256 of the normalised fields")
    func derivedIDIsTheDigestPrefix() {
        // SHA-256 of "visit␟1956-07-16/1956-07-18␟KP␟MN␟premier kim il sung␟chairman yumjaagiin tsedenbal␟ulaanbaatar"
        // (␟ is U+001F): 939353c0dd7f856f4daa63da927617162f52cd7a61e055777213ca716286d532. Earlier
        // versions gave this visit of the bundled dataset the same id.
        let event = TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956-07-16/1956-07-18")!, from: CountryCode("KP")!, to: CountryCode("MN")!,
                                  guest: "Premier  Kim Il Sung", host: "Chairman Yumjaagiin Tsedenbal", place: "ULAANBAATAR",
                                  source: Provenance(document: "d"))
        #expect(event.id == "939353c0dd7f856f4daa63da92761716")
        #expect(EventKey(id: event.id) == EventKey(high: 0x9393_53c0_dd7f_856f, low: 0x4daa_63da_9276_1716))
    }

    @Test("The key of an id that is not 32 hex digits is the first 128 bits of the id's SHA-256")
    func keyOfAnOtherIDIsTheDigestPrefix() {
        #expect(EventKey(id: "abc") == EventKey(high: 0xba78_16bf_8f01_cfea, low: 0x4141_40de_5dae_2223))
        #expect(EventKey(id: "") == EventKey(high: 0xe3b0_c442_98fc_1c14, low: 0x9afb_f4c8_996f_b924))
        // 32 digits, but upper case: hashed, not read as hex.
        #expect(EventKey(id: "939353C0DD7F856F4DAA63DA92761716") != EventKey(high: 0x9393_53c0_dd7f_856f, low: 0x4daa_63da_9276_1716))
    }

    /// Messages of bytes `(7i + 3) mod 256` around the block and padding boundaries; digests from
    /// Python's hashlib.
    @Test("Keys are right on both sides of every block and padding boundary", arguments: [
        (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        (1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"),
    ])
    func boundaries(length: Int, hex: String) {
        let message = (0..<length).map { UInt8(($0 * 7 + 3) % 256) }
        let key = message.withUnsafeBufferPointer { EventKey(idBytes: $0) }
        let digits = Array(hex.utf8)
        #expect(key == EventKey(high: UInt64(String(decoding: digits[0..<16], as: UTF8.self), radix: 16)!,
                                low: UInt64(String(decoding: digits[16..<32], as: UTF8.self), radix: 16)!))
    }
}
