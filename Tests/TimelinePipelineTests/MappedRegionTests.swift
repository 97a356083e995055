import Testing
@testable import TimelinePipeline

@Suite("Mapped memory for the counted-key set")
struct MappedRegionTests {
    @Test("Memory that cannot be had is an error naming the size, not a trap")
    func failureIsAnError() {
        #expect {
            _ = try MappedRegion(minimumBytes: 1 << 60, reserve: 0)
        } throws: { error in
            guard let error = error as? MemoryMapError else { return false }
            return error.operation == "reserve" && error.bytes == 1 << 60 && "\(error)".contains("counted-key set")
        }
    }

    @Test("A region that cannot reserve room to grow reserves what it needs now, and works")
    func fallsBackToWhatItNeeds() throws {
        let region = try MappedRegion(minimumBytes: 3 << 20, reserve: 1 << 60)
        #expect(region.reserved == 3 << 20)
        try region.commit(bytes: 3 << 20)
        region.words[(3 << 20) / 8 - 1] = 42
        #expect(region.words[(3 << 20) / 8 - 1] == 42)
        #expect(!region.canHold(bytes: (3 << 20) + 1))
    }

    @Test("Commits are made a megabyte at a time, and the committed pages read and write")
    func commits() throws {
        let region = try MappedRegion(minimumBytes: 1 << 20)
        #expect(region.reserved == 1 << 30)
        try region.commit(bytes: 10)
        #expect(region.committed == 1 << 20)
        region.words[0] = 7
        try region.commit(bytes: (1 << 20) + 1)
        #expect(region.committed == 2 << 20 && region.words[0] == 7)
    }
}
