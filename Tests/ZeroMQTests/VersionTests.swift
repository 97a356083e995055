import Testing
@testable import ZeroMQ
@Test func linksAgainstLibzmq() { #expect(zmqVersion().major == 4) }
