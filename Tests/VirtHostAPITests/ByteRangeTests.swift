import Testing
import TestSupport
@testable import VirtHostAPI

/// `Range: bytes=…` against a body's size (RFC 9110 §14.1.2), as volume downloads read it.
@Suite(.paced) struct ByteRangeTests {
    @Test func rangesWithinTheBodyAreClampedAndSuffixesCountFromTheEnd() {
        #expect(ByteRange.parse(nil, size: 100) == .whole)
        #expect(ByteRange.parse("bytes=0-9", size: 100) == .part(0, 9))
        #expect(ByteRange.parse("bytes=90-", size: 100) == .part(90, 99))
        #expect(ByteRange.parse("bytes=90-500", size: 100) == .part(90, 99))
        #expect(ByteRange.parse("bytes=-10", size: 100) == .part(90, 99))
        #expect(ByteRange.parse("bytes=-500", size: 100) == .part(0, 99))
        #expect(ByteRange.parse(" bytes=5-5 ", size: 100) == .part(5, 5))
    }

    @Test func impossibleRangesAreUnsatisfiable() {
        #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=100-200", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=9-3", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-0", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-5", size: 0) == .unsatisfiable)
    }

    /// What the RFC lets a server ignore is ignored: the whole body is sent.
    @Test func listsOtherUnitsAndNonsenseAreIgnored() {
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == .whole)
        #expect(ByteRange.parse("items=0-1", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=a-b", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=5", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=-", size: 100) == .whole)
    }
}
