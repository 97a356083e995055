import Foundation
import Testing
import Timeline

@Suite("CAMEO and FIPS country codes in the gazetteer")
struct GazetteerCodeTests {
    let gazetteer = Fixtures.gazetteer

    @Test("Every present-day country has a CAMEO and a FIPS 10-4 code that resolve back to it")
    func everyCountry() {
        for (code, country) in gazetteer.countries where country.historical != true {
            #expect(!(country.cameo ?? []).isEmpty, "\(code) has no CAMEO code")
            #expect(!(country.fips ?? []).isEmpty, "\(code) has no FIPS code")
            for cameo in country.cameo ?? [] { #expect(gazetteer.country(cameo: cameo) == code) }
            for fips in country.fips ?? [] { #expect(gazetteer.country(fips: fips) == code) }
        }
    }

    @Test("Codes that differ from ISO resolve as CAMEO and FIPS mean them", arguments: [
        ("cameo", "MNG", "MN"), ("cameo", "PRK", "KP"), ("cameo", "ROM", "RO"), ("cameo", "TMP", "TL"), ("cameo", "prk", "KP"),
        ("fips", "MG", "MN"), ("fips", "KN", "KP"), ("fips", "KS", "KR"), ("fips", "GM", "DE"), ("fips", "UK", "GB"),
        ("fips", "RS", "RU"), ("fips", "CH", "CN"), ("fips", "BM", "MM"), ("fips", "MN", "MC"),
    ])
    func spelling(_ system: String, _ code: String, _ iso: String) {
        let resolved = system == "cameo" ? gazetteer.country(cameo: code) : gazetteer.country(fips: code)
        #expect(resolved == Fixtures.code(iso))
    }

    @Test("A gazetteer giving one code to two countries is refused")
    func conflictRefused() {
        let json = """
        {"version": 1, "countries": [
          {"code": "MN", "fips": ["MG"], "name": "Mongolia", "names": [], "adjectives": [], "capital": "Ulaanbaatar", "places": []},
          {"code": "MG", "fips": ["MG"], "name": "Madagascar", "names": [], "adjectives": [], "capital": "Antananarivo", "places": []}
        ]}
        """
        #expect(throws: Gazetteer.LoadError.self) { _ = try Gazetteer(json: Data(json.utf8)) }
    }
}
