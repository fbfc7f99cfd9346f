using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace InferenceServer.Architecture.Tests;

/// <summary>Reads which types of an assembly reference which other types of the same assembly, from compiled
/// metadata and IL rather than source text: a type named through a global using, a partially qualified name or a
/// fully qualified one compiles to the same token, so none of them can slip past.</summary>
public static class IlReferenceReader
{
    /// <summary>Operand kind of every opcode, from the runtime's own opcode table, keyed by its one- or two-byte value.</summary>
    static readonly Dictionary<ushort, OperandType> Operands = BuildOperandTable();

    public static IReadOnlyList<(TypeKey From, TypeKey To)> Read(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var reader = pe.GetMetadataReader();
        var types = new SignatureNamespaces(reader);
        var references = new List<(TypeKey, TypeKey)>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var from = types.Outermost(handle);
            foreach (var to in Referenced(pe, reader, types, reader.GetTypeDefinition(handle)))
                references.Add((from, to));
        }
        return references;
    }

    static IEnumerable<TypeKey> Referenced(PEReader pe, MetadataReader reader, SignatureNamespaces types, TypeDefinition type)
    {
        var found = new List<TypeKey>();
        void Add(ImmutableArray<TypeKey> keys) => found.AddRange(keys);
        void Attributes(CustomAttributeHandleCollection attributes)
        {
            // An attribute's constructor token names the attribute type; typeof() arguments are serialized as strings
            // and are not decoded here (the code that consumes them references the types in IL anyway).
            foreach (var a in attributes) Add(OfToken(reader, types, reader.GetCustomAttribute(a).Constructor));
        }
        void Constraints(GenericParameterHandleCollection parameters)
        {
            foreach (var p in parameters)
                foreach (var c in reader.GetGenericParameter(p).GetConstraints())
                    Add(types.Of(reader.GetGenericParameterConstraint(c).Type));
        }

        if (!type.BaseType.IsNil) Add(types.Of(type.BaseType));
        foreach (var i in type.GetInterfaceImplementations()) Add(types.Of(reader.GetInterfaceImplementation(i).Interface));
        Attributes(type.GetCustomAttributes());
        Constraints(type.GetGenericParameters());
        foreach (var impl in type.GetMethodImplementations())
            Add(OfToken(reader, types, reader.GetMethodImplementation(impl).MethodDeclaration));

        foreach (var f in type.GetFields())
        {
            var field = reader.GetFieldDefinition(f);
            Add(field.DecodeSignature(types, null));
            Attributes(field.GetCustomAttributes());
        }
        foreach (var p in type.GetProperties())
        {
            var property = reader.GetPropertyDefinition(p);
            Add(SignatureNamespaces.Of(property.DecodeSignature(types, null)));
            Attributes(property.GetCustomAttributes());
        }
        foreach (var e in type.GetEvents())
        {
            var @event = reader.GetEventDefinition(e);
            Add(types.Of(@event.Type));
            Attributes(@event.GetCustomAttributes());
        }
        foreach (var m in type.GetMethods())
        {
            var method = reader.GetMethodDefinition(m);
            Add(SignatureNamespaces.Of(method.DecodeSignature(types, null)));
            Attributes(method.GetCustomAttributes());
            Constraints(method.GetGenericParameters());
            foreach (var p in method.GetParameters()) Attributes(reader.GetParameter(p).GetCustomAttributes());
            if (method.RelativeVirtualAddress != 0) Body(pe.GetMethodBody(method.RelativeVirtualAddress));
        }
        return found;

        void Body(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil)
                foreach (var local in reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(types, null)) Add(local);
            foreach (var region in body.ExceptionRegions)
                if (!region.CatchType.IsNil) Add(types.Of(region.CatchType));
            foreach (var token in TokensIn(body.GetILReader())) Add(OfToken(reader, types, MetadataTokens.EntityHandle(token)));
        }
    }

    /// <summary>Walks the IL stream opcode by opcode and yields every metadata-token operand (call, newobj, ldfld,
    /// ldtoken, box, castclass, constrained., ldftn, calli's signature, ...); ldstr's string token is not metadata.</summary>
    static IEnumerable<int> TokensIn(BlobReader il)
    {
        var tokens = new List<int>();
        while (il.RemainingBytes > 0)
        {
            ushort code = il.ReadByte();
            if (code == 0xFE) code = (ushort)(0xFE00 | il.ReadByte());
            if (!Operands.TryGetValue(code, out var operand))
                throw new BadImageFormatException($"unknown IL opcode 0x{code:X} at offset {il.Offset - 1}");
            switch (operand)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType
                    or OperandType.InlineTok or OperandType.InlineSig:
                    tokens.Add(il.ReadInt32());
                    break;
                case OperandType.InlineSwitch:
                    // Read the count first: `il.Offset += 4 * il.ReadInt32()` would take Offset before the read moved it.
                    var targets = il.ReadInt32();
                    il.Offset += 4 * targets;
                    break;
                default:
                    il.Offset += OperandSize(operand);
                    break;
            }
        }
        return tokens;
    }

    static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4, // InlineBrTarget, InlineI, ShortInlineR, InlineString
    };

    /// <summary>The types a token operand names: for a member, its declaring type plus every type in its signature;
    /// for a generic method instantiation, also its type arguments.</summary>
    static ImmutableArray<TypeKey> OfToken(MetadataReader reader, SignatureNamespaces types, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var method = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                return SignatureNamespaces.Concat(
                    [types.Outermost(method.GetDeclaringType())], SignatureNamespaces.Of(method.DecodeSignature(types, null)));
            case HandleKind.FieldDefinition:
                var field = reader.GetFieldDefinition((FieldDefinitionHandle)handle);
                return SignatureNamespaces.Concat([types.Outermost(field.GetDeclaringType())], field.DecodeSignature(types, null));
            case HandleKind.MemberReference:
                var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                var signature = member.GetKind() == MemberReferenceKind.Method
                    ? SignatureNamespaces.Of(member.DecodeMethodSignature(types, null))
                    : member.DecodeFieldSignature(types, null);
                // A vararg call site's parent is the MethodDef; otherwise a TypeDef/Ref/Spec (or a ModuleRef: no type).
                return SignatureNamespaces.Concat(OfToken(reader, types, member.Parent), signature);
            case HandleKind.MethodSpecification:
                var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                return SignatureNamespaces.Concat(
                    OfToken(reader, types, spec.Method), SignatureNamespaces.Concat(spec.DecodeSignature(types, null)));
            case HandleKind.StandaloneSignature:
                var standalone = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                return standalone.GetKind() == StandaloneSignatureKind.Method
                    ? SignatureNamespaces.Of(standalone.DecodeMethodSignature(types, null))
                    : SignatureNamespaces.Concat(standalone.DecodeLocalSignature(types, null));
            default:
                return types.Of(handle);
        }
    }

    static Dictionary<ushort, OperandType> BuildOperandTable()
    {
        var table = new Dictionary<ushort, OperandType>();
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var opcode = (OpCode)field.GetValue(null)!;
            // Prefix1..7 and Prefixref are encoding bytes, not instructions; 0xFE is consumed as the two-byte escape.
            if (opcode.OpCodeType != OpCodeType.Nternal) table.TryAdd((ushort)opcode.Value, opcode.OperandType);
        }
        return table;
    }
}
