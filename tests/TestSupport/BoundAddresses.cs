using System.Net;

namespace InferenceServer.TestSupport;

/// <summary>
/// Where a server the tests started is listening. Test servers bind port 0 on 127.0.0.1, so the OS picks a free
/// port at bind time (no "find a free port, release it, bind it later" race, no fixed port another process may hold),
/// and the test reads the addresses back after start: for Kestrel, <c>app.Urls</c> (IServerAddressesFeature), which
/// Kestrel fills with the bound addresses in the order the endpoints were configured.
/// </summary>
public static class BoundAddresses
{
    /// <summary>The bound loopback addresses, in order; throws when one is missing, unbound (port 0) or not loopback.</summary>
    public static IReadOnlyList<Uri> Parse(IEnumerable<string> addresses, int expected)
    {
        var list = addresses.ToList();
        if (list.Count != expected)
            throw new InvalidOperationException($"expected {expected} bound address(es), the server reports {list.Count}: [{string.Join(", ", list)}] (read them after StartAsync)");
        var uris = new List<Uri>();
        foreach (var a in list)
        {
            if (!Uri.TryCreate(a, UriKind.Absolute, out var uri) || uri.Port <= 0)
                throw new InvalidOperationException($"bound address '{a}' has no port (was it read before the server started?)");
            if (!IPAddress.TryParse(uri.Host, out var ip) || !IPAddress.IsLoopback(ip))
                throw new InvalidOperationException($"bound address '{a}' is not a loopback IP: test servers must listen on 127.0.0.1");
            uris.Add(new Uri($"{uri.Scheme}://{uri.Host}:{uri.Port}/"));
        }
        return uris;
    }

    /// <summary>
    /// The REST (HTTP/1.1) and gRPC (HTTP/2-only, h2c) addresses of a started <c>ServerHost</c>, which configures the
    /// REST endpoint first. The order is checked, not assumed: GET /health over HTTP/1.1 must answer 200 on the REST
    /// address (the HTTP/2-only gRPC port refuses HTTP/1.1), so a reordering fails here with the addresses named.
    /// </summary>
    public static async Task<(Uri Http, Uri Grpc)> RestAndGrpcAsync(IEnumerable<string> addresses, CancellationToken cancellationToken = default)
    {
        var uris = Parse(addresses, 2);
        using var http = new HttpClient { BaseAddress = uris[0], Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            using var response = await http.GetAsync("health", cancellationToken);
            if ((int)response.StatusCode != 200)
                throw new InvalidOperationException($"GET {uris[0]}health answered {(int)response.StatusCode}; expected the REST endpoint first in [{uris[0]}, {uris[1]}]");
        }
        catch (HttpRequestException e)
        {
            throw new InvalidOperationException($"GET {uris[0]}health over HTTP/1.1 failed ({e.Message}); expected the REST endpoint first in [{uris[0]}, {uris[1]}]", e);
        }
        return (uris[0], new Uri($"{uris[1].Scheme}://{uris[1].Authority}"));
    }
}
