namespace InferenceServer.Tokenization;

/// <summary>
/// Just enough of the protobuf wire format to read a SentencePiece <c>ModelProto</c>:
/// varints, fixed32 floats and length-delimited fields (strings and nested messages).
/// A full protobuf dependency would be heavier than the five field kinds we need.
/// </summary>
internal sealed class ProtoReader
{
    private readonly byte[] _buffer;
    private readonly int _end;
    private int _position;

    public ProtoReader(byte[] buffer) : this(buffer, 0, buffer.Length) { }

    private ProtoReader(byte[] buffer, int start, int end)
    {
        _buffer = buffer;
        _position = start;
        _end = end;
    }

    public enum WireType
    {
        Varint = 0,
        Fixed64 = 1,
        LengthDelimited = 2,
        Fixed32 = 5,
    }

    /// <summary>Reads the next field key; false at the end of this message.</summary>
    public bool TryReadField(out int fieldNumber, out WireType wireType)
    {
        if (_position >= _end)
        {
            fieldNumber = 0;
            wireType = 0;
            return false;
        }
        var key = ReadVarint();
        fieldNumber = (int)(key >> 3);
        wireType = (WireType)(key & 7);
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return result;
        }
        throw new InvalidDataException("malformed protobuf varint (more than 10 bytes)");
    }

    /// <summary>An int32/enum field; negative values are sign-extended to 64 bits on the wire.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        Require(4);
        var value = BitConverter.ToSingle(_buffer, _position);
        _position += 4;
        return value;
    }

    public string ReadString()
    {
        var (start, length) = ReadLength();
        return System.Text.Encoding.UTF8.GetString(_buffer, start, length);
    }

    public int ReadBytesLength() => ReadLength().Length;

    public ProtoReader ReadMessage()
    {
        var (start, length) = ReadLength();
        return new ProtoReader(_buffer, start, start + length);
    }

    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Require(8); _position += 8; break;
            case WireType.Fixed32: Require(4); _position += 4; break;
            case WireType.LengthDelimited: ReadLength(); break;
            default: throw new InvalidDataException($"unsupported protobuf wire type {(int)wireType}");
        }
    }

    private (int Start, int Length) ReadLength()
    {
        var length = ReadVarint();
        if (length > (ulong)(_end - _position))
            throw new InvalidDataException("protobuf length runs past the end of its message");
        var start = _position;
        _position += (int)length;
        return (start, (int)length);
    }

    private byte ReadByte()
    {
        Require(1);
        return _buffer[_position++];
    }

    private void Require(int count)
    {
        if (_end - _position < count)
            throw new InvalidDataException("protobuf message is truncated");
    }
}
