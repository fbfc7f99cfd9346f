using TorchSharp;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Keeps every tensor made on this thread reachable until disposed, then hands them on untouched: to the enclosing
/// dispose scope if there is one, otherwise back to their finalizers. Nothing is disposed here.
/// </summary>
/// <remarks>
/// A tensor that code leaves to the garbage collector (the <c>x.abs()</c> of <c>x.abs().amax(…)</c>) is unreachable
/// as soon as its handle has been passed to libtorch, so a collection that another thread starts during that call lets
/// the finalizer thread free it mid-operation: a segmentation fault. Inside this scope such temporaries stay referenced
/// until the unit of work ends, after which nothing reads them. Use it around work whose results outlive it (building
/// a layer from its weights, writing a checkpoint); where nothing made inside must survive, a plain
/// <c>torch.NewDisposeScope()</c> is better, since it also frees the temporaries at once. Create and dispose it on one
/// thread (dispose scopes are per thread).
/// </remarks>
public sealed class KeepAliveScope : IDisposable
{
    private readonly DisposeScope _scope = torch.NewDisposeScope();

    public void Dispose()
    {
        _scope.MoveToOuter(_scope.DisposablesView);
        _scope.Dispose();
    }
}
