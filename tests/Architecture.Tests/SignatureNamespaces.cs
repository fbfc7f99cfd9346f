using System.Collections.Immutable;
using System.Reflection.Metadata;

namespace InferenceServer.Architecture.Tests;

/// <summary>A type named by its outermost declaring type, so that nested and compiler-generated types (closures,
/// async state machines) count toward the namespace of the type that declares them.</summary>
public readonly record struct TypeKey(string Namespace, string Name)
{
    public override string ToString() => Namespace.Length == 0 ? Name : $"{Namespace}.{Name}";
}

/// <summary>Decodes signatures into the types of the assembly under test that they mention, generic arguments,
/// array elements, modifiers and function pointers included. Types of other assemblies decode to nothing: a
/// cross-assembly edge cannot close a cycle, since project references are acyclic.</summary>
public sealed class SignatureNamespaces(MetadataReader reader) : ISignatureTypeProvider<ImmutableArray<TypeKey>, object?>
{
    static readonly ImmutableArray<TypeKey> None = [];

    /// <summary>The types named by a TypeDef, TypeRef or TypeSpec handle; other handles name no type.</summary>
    public ImmutableArray<TypeKey> Of(EntityHandle handle) => handle.Kind switch
    {
        HandleKind.TypeDefinition => [Outermost((TypeDefinitionHandle)handle)],
        HandleKind.TypeReference => OfReference((TypeReferenceHandle)handle),
        HandleKind.TypeSpecification => reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null),
        _ => None,
    };

    public TypeKey Outermost(TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.IsNested) type = reader.GetTypeDefinition(type.GetDeclaringType());
        return new TypeKey(reader.GetString(type.Namespace), reader.GetString(type.Name));
    }

    ImmutableArray<TypeKey> OfReference(TypeReferenceHandle handle)
    {
        var type = reader.GetTypeReference(handle);
        while (type.ResolutionScope.Kind == HandleKind.TypeReference)
            type = reader.GetTypeReference((TypeReferenceHandle)type.ResolutionScope);
        // C# names its own module's types by TypeDef, but a TypeRef scoped to this module is legal and means the same.
        // One scoped to an AssemblyReference (or a nil, exported-type scope) lies outside the assembly under test.
        return type.ResolutionScope.Kind == HandleKind.ModuleDefinition
            ? [new TypeKey(reader.GetString(type.Namespace), reader.GetString(type.Name))]
            : None;
    }

    public static ImmutableArray<TypeKey> Concat(params IEnumerable<ImmutableArray<TypeKey>> parts) => [.. parts.SelectMany(p => p)];

    public static ImmutableArray<TypeKey> Of(MethodSignature<ImmutableArray<TypeKey>> signature) =>
        Concat(signature.ParameterTypes.Prepend(signature.ReturnType));

    public ImmutableArray<TypeKey> GetTypeFromDefinition(MetadataReader _, TypeDefinitionHandle handle, byte rawTypeKind) => Of(handle);
    public ImmutableArray<TypeKey> GetTypeFromReference(MetadataReader _, TypeReferenceHandle handle, byte rawTypeKind) => Of(handle);
    public ImmutableArray<TypeKey> GetTypeFromSpecification(MetadataReader _, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => Of(handle);
    public ImmutableArray<TypeKey> GetGenericInstantiation(ImmutableArray<TypeKey> generic, ImmutableArray<ImmutableArray<TypeKey>> arguments) => Concat(arguments.Prepend(generic));
    public ImmutableArray<TypeKey> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeKey>> signature) => Of(signature);
    public ImmutableArray<TypeKey> GetModifiedType(ImmutableArray<TypeKey> modifier, ImmutableArray<TypeKey> unmodified, bool isRequired) => Concat(modifier, unmodified);
    public ImmutableArray<TypeKey> GetSZArrayType(ImmutableArray<TypeKey> element) => element;
    public ImmutableArray<TypeKey> GetArrayType(ImmutableArray<TypeKey> element, ArrayShape shape) => element;
    public ImmutableArray<TypeKey> GetByReferenceType(ImmutableArray<TypeKey> element) => element;
    public ImmutableArray<TypeKey> GetPointerType(ImmutableArray<TypeKey> element) => element;
    public ImmutableArray<TypeKey> GetPinnedType(ImmutableArray<TypeKey> element) => element;
    // Type parameters stand for whatever the instantiation supplies; that instantiation is decoded where it occurs.
    public ImmutableArray<TypeKey> GetGenericTypeParameter(object? context, int index) => None;
    public ImmutableArray<TypeKey> GetGenericMethodParameter(object? context, int index) => None;
    public ImmutableArray<TypeKey> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;
}
