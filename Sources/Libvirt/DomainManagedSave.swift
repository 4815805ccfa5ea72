import CLibvirt

/// Managed save: the running domain's RAM to a file libvirt keeps, restored by its next start.
extension Domain {
    /// Saves the RAM and stops the domain (`virDomainManagedSave`); blocks while it is written.
    public func managedSave() throws {
        try LibvirtError.status("virDomainManagedSave") { virDomainManagedSave(handle, 0) }
    }

    /// Whether a managed save image waits for the next start (`virDomainHasManagedSaveImage`).
    public func hasManagedSave() throws -> Bool {
        try LibvirtError.status("virDomainHasManagedSaveImage") { virDomainHasManagedSaveImage(handle, 0) } == 1
    }

    /// Removes the managed save image: the next start boots afresh (`virDomainManagedSaveRemove`).
    public func removeManagedSave() throws {
        try LibvirtError.status("virDomainManagedSaveRemove") { virDomainManagedSaveRemove(handle, 0) }
    }
}
