/// The version of FuRA-Swift.
public let furaVersion = "0.1.0"
