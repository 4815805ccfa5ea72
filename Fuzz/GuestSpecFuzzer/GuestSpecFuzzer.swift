import Foundation
import GuestSpecOracle

// Built by scripts/fuzz.sh with `--sanitize=fuzzer -Xswiftc -DFUZZING`: libFuzzer supplies
// `main` and calls this entry with each input, mutated mostly as JSON by the custom mutator. A
// violation of the oracle traps, which libFuzzer reports as a crash and saves the input.
#if FUZZING
import CLibFuzzer

@_cdecl("LLVMFuzzerTestOneInput")
public func guestSpecFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        _ = try GuestSpecOracle.check(bytes)
    } catch {
        fatalError("oracle violated: \(error)")
    }
    return 0
}

/// Two mutations in three are JSON-aware (``JSONMutator``), the third is libFuzzer's own
/// byte-level one, which also breaks the JSON and so exercises the reader's refusals.
@_cdecl("LLVMFuzzerCustomMutator")
public func guestSpecFuzzerCustomMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int,
                                         _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    var mutator = JSONMutator(seed: UInt64(seed))
    if mutator.random.below(3) != 0,
       let mutated = mutator.mutate(Array(UnsafeBufferPointer(start: data, count: size))), mutated.count <= maxSize {
        for (index, byte) in mutated.enumerated() { data[index] = byte }
        return mutated.count
    }
    return LLVMFuzzerMutate(data, size, maxSize)
}
#else
/// In a plain build (which has to link a `main`), the same checks over the files or
/// directories given: `GuestSpecFuzzer Fuzz/seeds .build-fuzz/artifacts/crash-…` replays
/// a corpus or a crash without the fuzzing toolchain.
@main enum GuestSpecFuzzer {
    static func main() {
        var files: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("no such file: \(argument)\n".utf8))
                exit(2)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                files += names.sorted().map { argument + "/" + $0 }
            } else {
                files.append(argument)
            }
        }
        var failures = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            do {
                let outcome = try GuestSpecOracle.check(Array(data))
                let documents = outcome.documentsChecked - 1  // besides the escaping probe
                print("ok \(file): " + (documents > 0 ? "\(documents) documents rendered and checked"
                                                      : "refused with \(outcome.fieldErrors.count) field errors"))
            } catch {
                print("VIOLATION \(file): \(error)")
                failures += 1
            }
        }
        exit(failures == 0 ? 0 : 1)
    }
}
#endif
