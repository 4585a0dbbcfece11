package evento

// DecodeMetadataPaths decodes b with the fast path for string-only
// metadata and with the general CBOR decoder, for the fuzz test that
// compares them.
func DecodeMetadataPaths(b []byte) (fast Metadata, fastOK bool, general Metadata, err error) {
	fastOK = decodeMetadataStrings(b, &fast)
	err = decodeMetadataCBOR(b, &general)
	return fast, fastOK, general, err
}
