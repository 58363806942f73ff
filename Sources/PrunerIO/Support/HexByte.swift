// Tiny formatting helper shared by the codecs' error messages.

/// Two lowercase hex digits for `byte`, for error reasons that quote bytes seen in a stream.
func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
