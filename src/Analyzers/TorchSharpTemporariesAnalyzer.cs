using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace InferenceServer.Analyzers;

/// <summary>
/// Finds TorchSharp objects that die while native code still reads them. A <c>Scalar</c> or <c>Tensor</c> wraps a
/// native object that its finalizer frees. One made for a single call (the 2 of <c>t * 2</c>, the alpha of
/// <c>a + b</c>) is unreachable as soon as its handle has been read, so a garbage collection that another thread starts
/// during the native call lets the finalizer thread free it mid-operation: libtorch then reads freed memory ("Expected
/// false to be true" from c10::Scalar::toFloat, or a segmentation fault). Objects kept in a field, or in a
/// <c>using</c> local that is disposed after the call, cannot be collected.
/// </summary>
/// <remarks>
/// IS0001: a Scalar or Tensor made from a number (implicit conversion or <c>ToScalar()</c>) that nothing keeps.
/// IS0002: a TorchSharp member that makes such a temporary inside itself (<c>Tensor + Tensor</c> passes an alpha of 1,
/// <c>t * 2.0</c> converts the 2.0, <c>t.ToSingle()</c> reads through a temporary Scalar).
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TorchSharpTemporariesAnalyzer : DiagnosticAnalyzer
{
    public static readonly DiagnosticDescriptor Unkept = new(
        "IS0001", "TorchSharp temporary made from a number",
        "This {0} is a temporary that the garbage collector may free while libtorch reads it; keep it in a field (Engine.Runtime.Scalars) or a using local",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Hidden = new(
        "IS0002", "TorchSharp member makes a temporary Scalar",
        "{0} makes a Scalar inside TorchSharp that the garbage collector may free while libtorch reads it; {1}",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Unkept, Hidden);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var types = TorchTypes.Find(start.Compilation);
            if (types is null) return;   // the project does not reference TorchSharp
            start.RegisterOperationAction(c => Conversion(c, types), OperationKind.Conversion);
            start.RegisterOperationAction(c => Invocation(c, types), OperationKind.Invocation);
            start.RegisterOperationAction(c => Operator(c, types, ((IBinaryOperation)c.Operation).OperatorMethod), OperationKind.Binary);
            start.RegisterOperationAction(c => Operator(c, types, ((ICompoundAssignmentOperation)c.Operation).OperatorMethod), OperationKind.CompoundAssignment);
        });
    }

    private static void Conversion(OperationAnalysisContext c, TorchTypes t)
    {
        var conversion = (IConversionOperation)c.Operation;
        var method = conversion.OperatorMethod;
        if (method is null || !method.ContainingType.Equals(method.ReturnType, SymbolEqualityComparer.Default)) return;
        if (!t.IsScalarOrTensor(method.ReturnType) || !IsNumber(method.Parameters[0].Type)) return;
        if (!Kept(conversion)) c.ReportDiagnostic(Diagnostic.Create(Unkept, conversion.Syntax.GetLocation(), method.ReturnType.Name));
    }

    private static void Invocation(OperationAnalysisContext c, TorchTypes t)
    {
        var call = (IInvocationOperation)c.Operation;
        var m = call.TargetMethod;
        if (m.Name == "ToScalar" && t.IsScalar(m.ReturnType) && IsTorchSharp(m))
        {
            if (!Kept(call)) c.ReportDiagnostic(Diagnostic.Create(Unkept, call.Syntax.GetLocation(), "Scalar"));
            return;
        }
        if (!IsTorchSharp(m)) return;
        var fix = HiddenScalarFix(m, t);
        if (fix is not null) c.ReportDiagnostic(Diagnostic.Create(Hidden, call.Syntax.GetLocation(), m.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat), fix));
    }

    /// <summary>What to call instead of a TorchSharp method that makes a Scalar of its own, or null when it makes none.</summary>
    private static string? HiddenScalarFix(IMethodSymbol m, TorchTypes t)
    {
        // add(x) and add_(x) call add(x, alpha: 1); torch.add(a, b) calls a.add(b); addcdiv(a, b) passes value: 1.
        bool tensorMath = t.IsTensor(m.ContainingType) || m.ContainingType.Name == "torch";
        if (tensorMath && m.Name is "add" or "add_" && !m.Parameters.Any(p => p.Name == "alpha"))
            return "pass a kept alpha (Scalars.Add / Scalars.AddInPlace, or add(x, alpha))";
        if (tensorMath && m.Name is "addcdiv" or "addcdiv_" && !m.Parameters.Any(p => p.Name == "value"))
            return "pass a kept value";
        // TensorExtensionMethods.ToSingle() and friends read the value through value.ToScalar().
        if (m.ContainingType.Name == "TensorExtensionMethods" && m.Name.StartsWith("To") && m.Parameters.Length == 1
            && t.IsTensor(m.Parameters[0].Type) && !t.IsTensor(m.ReturnType))
            return "read it with item<T>()";
        return null;
    }

    private static void Operator(OperationAnalysisContext c, TorchTypes t, IMethodSymbol? op)
    {
        if (op is null || !t.IsTensor(op.ContainingType)) return;
        var (left, right) = (op.Parameters[0].Type, op.Parameters[1].Type);
        string? fix = op.Name switch
        {
            // Tensor + anything goes through add(x) and its alpha of 1.
            "op_Addition" => "use Scalars.Add(a, b) for two tensors, or add(kept scalar, alpha)",
            // number − Tensor and Scalar − Tensor are negative().add(left).
            "op_Subtraction" when !t.IsTensor(left) => "use a kept Scalar with rsub, or negate and add with a kept alpha",
            _ when IsNumber(left) || IsNumber(right) => "pass a kept Scalar (Engine.Runtime.Scalars) to the method instead of a number",
            _ => null,
        };
        if (fix is not null)
            c.ReportDiagnostic(Diagnostic.Create(Hidden, c.Operation.Syntax.GetLocation(), $"Tensor operator {op.Name.Substring(3)} ({left.Name}, {right.Name})", fix));
    }

    /// <summary>
    /// True where the value lands somewhere that outlives the native call: a field or property (initializer or
    /// assignment) or a <c>using</c> local.
    /// </summary>
    private static bool Kept(IOperation value)
    {
        var p = value.Parent;
        while (p is IConversionOperation { OperatorMethod: null } or IParenthesizedOperation) p = p.Parent;
        switch (p)
        {
            case IFieldInitializerOperation or IPropertyInitializerOperation:
                return true;
            case ISimpleAssignmentOperation a:
                return a.Target is IFieldReferenceOperation or IPropertyReferenceOperation;
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation { Parent: IVariableDeclarationGroupOperation g } } }:
                return g.Parent is IUsingDeclarationOperation or IUsingOperation;
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation { Parent: IUsingOperation } } }:
                return true;
            default:
                return false;
        }
    }

    private static bool IsNumber(ITypeSymbol type) => type.SpecialType is SpecialType.System_Byte or SpecialType.System_SByte
        or SpecialType.System_Int16 or SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Single
        or SpecialType.System_Double or SpecialType.System_Boolean || type.Name is "Half" or "BFloat16" or "Complex";

    private static bool IsTorchSharp(IMethodSymbol m) => m.ContainingAssembly?.Name == "TorchSharp";

    private sealed class TorchTypes(INamedTypeSymbol scalar, INamedTypeSymbol tensor)
    {
        public static TorchTypes? Find(Compilation c) =>
            c.GetTypeByMetadataName("TorchSharp.Scalar") is { } s && c.GetTypeByMetadataName("TorchSharp.torch+Tensor") is { } t
                ? new TorchTypes(s, t) : null;

        public bool IsScalar(ITypeSymbol type) => SymbolEqualityComparer.Default.Equals(type, scalar);
        public bool IsTensor(ITypeSymbol type) => SymbolEqualityComparer.Default.Equals(type, tensor);
        public bool IsScalarOrTensor(ITypeSymbol type) => IsScalar(type) || IsTensor(type);
    }
}
