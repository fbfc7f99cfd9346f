using System.Security.Cryptography;
using System.Text;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Security;

/// <summary>
/// The one API-key rule of REST and gRPC. With keys set, every route needs <c>Authorization: Bearer KEY</c> (gRPC:
/// metadata <c>authorization</c>) except the probes and descriptions, which stay open unless their flag closes them:
/// <list type="bullet">
/// <item><c>--protect-health</c>: GET /health, GET /ready, grpc.health.v1.Health;</item>
/// <item><c>--protect-metrics</c>: GET /metrics, /openapi/v1.json, /docs, gRPC reflection.</item>
/// </list>
/// Anything else (inference, tokenize, models, and routes added later) needs the key: the list is of what is open.
/// </summary>
public sealed class AccessControl
{
    // SHA-256 of each accepted "Bearer KEY" header: the comparison then runs over equal lengths, so neither a key's
    // bytes nor its length can be learned from response timing, and every key is compared on every request.
    private readonly byte[][] _expected;
    private readonly bool _protectHealth;
    private readonly bool _protectMetrics;

    public AccessControl(ServerSettings settings)
    {
        _expected = settings.ApiKeys.Where(k => !string.IsNullOrEmpty(k))
            .Select(k => SHA256.HashData(Encoding.UTF8.GetBytes("Bearer " + k))).ToArray();
        _protectHealth = settings.ProtectHealth;
        _protectMetrics = settings.ProtectMetrics;
    }

    /// <summary>True when at least one key is set.</summary>
    public bool Enabled => _expected.Length > 0;

    /// <summary>Whether this request needs the key (always false without keys).</summary>
    public bool NeedsKey(HttpRequest request)
    {
        if (!Enabled) return false;
        string path = request.Path.Value ?? "/";
        if (GrpcRequests.IsGrpc(request))
        {
            if (ServiceRoutes.IsGrpcHealth(path)) return _protectHealth;
            if (ServiceRoutes.IsGrpcReflection(path)) return _protectMetrics;
            return true;
        }
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        {
            if (ServiceRoutes.Health.Contains(path, StringComparer.OrdinalIgnoreCase)) return _protectHealth;
            if (ServiceRoutes.Metrics.Contains(path, StringComparer.OrdinalIgnoreCase)) return _protectMetrics;
        }
        return true;
    }

    /// <summary>Whether the request's Authorization header carries one of the keys (constant time in the header and over all keys).</summary>
    public bool Accepts(HttpRequest request)
    {
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(request.Headers.Authorization.ToString()));
        bool match = false;
        foreach (var expected in _expected) match |= CryptographicOperations.FixedTimeEquals(given, expected);
        return match;
    }

    /// <summary>True when the request may go on: no key needed, or a right one given.</summary>
    public bool Allows(HttpRequest request) => !NeedsKey(request) || Accepts(request);
}
