import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// Which metadata of a domain (`virDomainMetadataType`).
public enum DomainMetadataKind: Sendable {
    case title, description
    /// An element of the application's own namespace, under `<metadata>`.
    case element(namespace: String, prefix: String)

    var type: Int32 {
        switch self {
        case .title: Int32(VIR_DOMAIN_METADATA_TITLE.rawValue)
        case .description: Int32(VIR_DOMAIN_METADATA_DESCRIPTION.rawValue)
        case .element: Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
        }
    }

    var uri: String? { if case .element(let namespace, _) = self { namespace } else { nil } }
    var key: String? { if case .element(_, let prefix) = self { prefix } else { nil } }
}

extension Domain {
    /// The metadata (`virDomainGetMetadata`), nil when the domain has none of that kind.
    public func metadata(_ kind: DomainMetadataKind, _ impact: DomainModificationImpact = []) throws -> String? {
        guard let text = virDomainGetMetadata(handle, kind.type, kind.uri, impact.rawValue) else {
            let error = LibvirtError.capture("virDomainGetMetadata")
            if error.code == Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue) { return nil }
            throw error
        }
        defer { free(text) }
        return String(cString: text)
    }

    /// Sets (or, with nil, removes) the metadata (`virDomainSetMetadata`). For an element,
    /// `value` is the element's XML; libvirt puts it in the kind's namespace with its prefix.
    public func setMetadata(_ kind: DomainMetadataKind, _ value: String?, _ impact: DomainModificationImpact) throws {
        _ = try LibvirtError.status("virDomainSetMetadata") {
            virDomainSetMetadata(handle, kind.type, value, kind.key, kind.uri, impact.rawValue)
        }
    }
}
