//! The web layer over real HTTP, like a browser would use it: the whole
//! application on a random port with a fresh database (SQLite, or
//! PostgreSQL when CARFIN_TEST_POSTGRES is set).
//!
//! The one integration-test binary of this crate: add tests here, not in new
//! files (link time).
// Test code: helpers may panic like the tests they serve.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use carfin_testkit::{Demo, LogCapture, TestApp, TestResponse};

/// The demo's reference data (entities and brands) is all these pages need.
async fn spawn() -> TestApp {
    TestApp::builder().demo(Demo::Reference).spawn().await
}

const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("cross-origin-opener-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

#[track_caller]
fn assert_security_headers(what: &str, response: &TestResponse) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(response.header(name), Some(*value), "{what}: header {name}");
    }
    let id = response
        .request_id()
        .unwrap_or_else(|| panic!("{what}: no x-request-id"));
    assert!(
        id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{what}: request id {id}"
    );
    if response.is_html() {
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{what}: cache-control"
        );
    }
}

#[track_caller]
fn assert_lang(response: &TestResponse, code: &str) {
    assert!(
        response.text.contains(&format!("<html lang=\"{code}\">")),
        "expected lang {code}: {}",
        response.text
    );
}

// OPS-08, SECURITY 9: the security headers on every response — a page, the
// 404 page, a 403 refusal, the stylesheet, the health check and metrics.
#[tokio::test]
async fn ops08_security_headers_on_every_response() {
    let t = spawn().await;
    let c = t.client();

    let page = c.get("/").await;
    assert_eq!(page.status, 200);
    assert_security_headers("page", &page);

    let missing = c.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert_security_headers("404", &missing);

    let refused = c
        .post_form_raw("/language", &[("lang", "fr"), ("next", "/")])
        .await;
    assert_eq!(refused.status, 403);
    assert_security_headers("403", &refused);

    let css = c.get("/static/carfin.css").await;
    assert_eq!(css.status, 200);
    assert_security_headers("css", &css);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css
        .header("cache-control")
        .is_some_and(|v| v.starts_with("public, max-age=")));
    assert!(css.text.contains(":focus-visible"), "visible focus styles");

    let health = c.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_security_headers("healthz", &health);
    assert_eq!(health.header("cache-control"), Some("no-store"));

    let metrics = c.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert_security_headers("metrics", &metrics);

    let wrong_method = c.get("/language").await;
    assert_eq!(wrong_method.status, 405);
    assert_security_headers("405", &wrong_method);
    assert!(wrong_method.is_html());
}

// OPS-06, OPS-07: Dutch by default; landmarks, skip link, no inline script
// or style; the brands grouped by entity; the way to the login.
#[tokio::test]
async fn ops06_landing_page_in_dutch_by_default() {
    let t = spawn().await;
    let page = t.client().get("/").await;
    assert_eq!(page.status, 200);
    assert_lang(&page, "nl");
    assert!(page.text.contains("Onze merken"), "{}", page.text);
    assert!(page
        .text
        .contains("Carfin Financial Services Nederland B.V."));
    assert!(page.text.contains("Carfin Financial Services Belgium NV"));
    for slug in ["carfin-lease", "autovia", "carfin-lease-belgie", "mobilio"] {
        assert!(
            page.text.contains(&format!("href=\"/brands/{slug}\"")),
            "brand {slug}"
        );
    }
    // Grouped: each brand in its entity's section.
    let groups: Vec<&str> = page
        .text
        .split("<section class=\"brand-group\"")
        .skip(1)
        .collect();
    assert_eq!(groups.len(), 2);
    let dutch = groups
        .iter()
        .find(|g| g.contains("Nederland B.V."))
        .unwrap();
    let belgian = groups.iter().find(|g| g.contains("Belgium NV")).unwrap();
    assert!(dutch.contains("/brands/autovia") && dutch.contains("/brands/carfin-lease\""));
    assert!(!dutch.contains("/brands/mobilio"));
    assert!(belgian.contains("/brands/mobilio") && belgian.contains("/brands/carfin-lease-belgie"));
    assert!(page.text.contains("href=\"/login\""));

    // OPS-07: landmarks, skip link, and nothing inline for the CSP to block.
    for landmark in [
        "<header",
        "<nav",
        "<main id=\"main\"",
        "<footer",
        "class=\"skip-link\" href=\"#main\"",
    ] {
        assert!(page.text.contains(landmark), "{landmark}");
    }
    for inline in ["<script", "<style", "style=", "onclick", "javascript:"] {
        assert!(!page.text.contains(inline), "inline {inline}");
    }
    assert!(page.text.contains("<meta name=\"viewport\""));
}

// OPS-06: French and English through Accept-Language, and ?lang=.
#[tokio::test]
async fn ops06_languages_from_accept_language_and_query() {
    let t = spawn().await;
    let fr = t
        .client()
        .with_header("accept-language", "fr-BE,fr;q=0.9,nl;q=0.5")
        .get("/")
        .await;
    assert_lang(&fr, "fr");
    assert!(fr.text.contains("Nos marques"));
    let en = t
        .client()
        .with_header("accept-language", "en-GB,en;q=0.8")
        .get("/legal")
        .await;
    assert_lang(&en, "en");
    assert!(en.text.contains("Legal details and contact"));
    let unsupported = t
        .client()
        .with_header("accept-language", "de-DE")
        .get("/")
        .await;
    assert_lang(&unsupported, "nl");
    let query = t
        .client()
        .with_header("accept-language", "fr")
        .get("/?lang=en")
        .await;
    assert_lang(&query, "en");
}

// OPS-06, OPS-08: the switcher is a CSRF-protected POST that sets the lang
// cookie for a year and goes back — only ever to a local path.
#[tokio::test]
async fn ops06_language_switcher_sets_a_lasting_cookie() {
    let t = spawn().await;
    let c = t.client().with_header("accept-language", "en");
    let page = c.get("/legal").await;
    assert_lang(&page, "en");
    assert!(page.text.contains("action=\"/language\""));
    assert!(page.text.contains("name=\"next\" value=\"/legal\""));
    for code in ["nl", "fr", "en"] {
        assert!(
            page.text
                .contains(&format!("name=\"lang\" value=\"{code}\"")),
            "button {code}"
        );
    }

    let switched = c
        .post_form("/language", &[("lang", "fr"), ("next", "/legal")])
        .await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location(), Some("/legal"));
    let cookie = switched
        .header_all("set-cookie")
        .into_iter()
        .find(|v| v.starts_with("lang="))
        .unwrap();
    assert!(cookie.starts_with("lang=fr;"), "{cookie}");
    assert!(
        cookie.contains("Max-Age=31536000")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/")
    );
    assert!(
        cookie.contains("Secure"),
        "secure cookies are the default: {cookie}"
    );

    let back = c.follow(&switched).await;
    assert_lang(&back, "fr");
    assert!(back.text.contains("Mentions légales et contact"));
    // The cookie wins over Accept-Language and lasts.
    let later = c.get("/").await;
    assert_lang(&later, "fr");

    // No open redirect through `next`.
    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
        "legal",
    ] {
        let r = c
            .post_form("/language", &[("lang", "nl"), ("next", evil)])
            .await;
        assert_eq!(r.status, 303, "{evil}");
        assert_eq!(r.location(), Some("/"), "{evil}");
    }
    let bad = c
        .post_form("/language", &[("lang", "xx"), ("next", "/")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.is_html());
}

// POL-04, ENT-01, ENT-02: a brand page names the legal entity behind the
// brand with its registered details, DPO and supervisory authority.
#[tokio::test]
async fn pol04_ent01_ent02_brand_page_names_its_entity() {
    let t = spawn().await;
    let c = t.client();
    let nl = c.get("/brands/autovia").await;
    assert_eq!(nl.status, 200);
    assert_lang(&nl, "nl");
    for fact in [
        "<h1>Autovia Financiering</h1>",
        "Autovia Financiering is een handelsnaam van Carfin Financial Services Nederland B.V.",
        "Stationsplein 100",
        "3511 ED Utrecht",
        "KvK 87654321",
        "NL864512337B01",
        "klantenservice@carfin-nederland.example",
        "privacy@carfin-nederland.example",
        "Functionaris voor gegevensbescherming",
        "href=\"https://autoriteitpersoonsgegevens.nl\"",
        "Autoriteit Persoonsgegevens",
        "href=\"/legal\"",
    ] {
        assert!(nl.text.contains(fact), "missing {fact}");
    }
    assert!(
        !nl.text.contains("carfin-belgique.example"),
        "only its own entity"
    );

    let be = t
        .client()
        .with_header("accept-language", "fr")
        .get("/brands/mobilio")
        .await;
    assert_eq!(be.status, 200);
    assert_lang(&be, "fr");
    for fact in [
        "Mobilio est une dénomination commerciale de Carfin Financial Services Belgium NV.",
        "KBO/BCE 0403.199.702",
        "BE0403199702",
        "dpo@carfin-belgique.example",
        "Délégué à la protection des données",
        "Gegevensbeschermingsautoriteit",
        "href=\"https://www.gegevensbeschermingsautoriteit.be\"",
        "Belgique",
    ] {
        assert!(be.text.contains(fact), "missing {fact}");
    }
}

// POL-04, ENT-01: /legal lists every entity; every page links to it.
#[tokio::test]
async fn pol04_legal_page_lists_every_entity_and_is_one_click_away() {
    let t = spawn().await;
    let c = t.client();
    let legal = c.get("/legal").await;
    assert_eq!(legal.status, 200);
    for fact in [
        "Carfin Financial Services Nederland B.V.",
        "Carfin Financial Services Belgium NV",
        "KvK 87654321",
        "KBO/BCE 0403.199.702",
        "privacy@carfin-nederland.example",
        "dpo@carfin-belgique.example",
        "Autoriteit Persoonsgegevens",
        "Gegevensbeschermingsautoriteit",
    ] {
        assert!(legal.text.contains(fact), "missing {fact}");
    }
    for path in ["/", "/brands/carfin-lease", "/legal", "/nowhere"] {
        let page = c.get(path).await;
        assert!(page.text.contains("<footer"), "{path}");
        let footer = &page.text[page.text.find("<footer").unwrap()..];
        assert!(
            footer.contains("href=\"/legal\""),
            "{path}: no legal link in the footer"
        );
        assert!(
            footer.contains("action=\"/language\""),
            "{path}: no language switcher"
        );
    }
}

// OPS-06, SECURITY 11: the 404 page is localized and shows the request id
// of the x-request-id header; an incoming x-request-id is not trusted.
#[tokio::test]
async fn ops06_unknown_brand_gives_a_localized_404_with_the_request_id() {
    let t = spawn().await;
    let fr = t
        .client()
        .with_header("accept-language", "fr")
        .get_with("/brands/nope", &[("x-request-id", "chosen-by-the-client")])
        .await;
    assert_eq!(fr.status, 404);
    assert!(fr.is_html());
    assert_lang(&fr, "fr");
    assert!(fr.text.contains("Page introuvable"));
    let id = fr.request_id().unwrap();
    assert_ne!(id, "chosen-by-the-client");
    assert_eq!(id.len(), 32);
    assert!(fr
        .text
        .contains(&format!("<code class=\"request-id\">{id}</code>")));
    assert_security_headers("404", &fr);

    let nl = t.client().get("/brands/nope").await;
    assert_eq!(nl.status, 404);
    assert!(nl.text.contains("Pagina niet gevonden"));
    assert_ne!(nl.request_id(), Some(id), "a fresh id per request");
}

// OPS-08, SECURITY 6: every POST needs the form's token; cross-site and
// foreign-origin requests are refused even with it.
#[tokio::test]
async fn ops08_csrf_protects_every_post() {
    let t = spawn().await;
    let c = t.client();
    let page = c.get("/").await;
    let token = page.form_token().unwrap();
    assert_eq!(token.len(), 64);
    let cookie = page
        .header_all("set-cookie")
        .into_iter()
        .find(|v| v.starts_with("__Host-carfin-csrf="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure")
            && cookie.contains("Path=/")
    );
    assert!(
        !cookie.contains("Domain="),
        "__Host- cookies have no Domain"
    );
    let fields = [("lang", "en"), ("next", "/")];

    let without = c.post_form_raw("/language", &fields).await;
    assert_eq!(without.status, 403);
    assert!(
        without.text.contains("Verzoek geweigerd"),
        "localized 403 page"
    );
    assert!(without.text.contains(without.request_id().unwrap()));

    let wrong = "0".repeat(64);
    let with_wrong = c
        .post_form_raw(
            "/language",
            &[("lang", "en"), ("next", "/"), ("csrf_token", &wrong)],
        )
        .await;
    assert_eq!(with_wrong.status, 403);

    let cross_site = c
        .post_form_with("/language", &fields, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(cross_site.status, 403);

    let foreign = c
        .post_form_with("/language", &fields, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(foreign.status, 403);

    // Another browser's token does not fit this browser's cookie.
    let other = t.client();
    other.get("/").await;
    let stolen = other
        .post_form_raw(
            "/language",
            &[("lang", "en"), ("next", "/"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(stolen.status, 403);

    // No cookie at all.
    let fresh = t.client();
    let no_cookie = fresh
        .post_form_raw(
            "/language",
            &[("lang", "en"), ("next", "/"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(no_cookie.status, 403);

    // The token in the header works as well as in the form.
    let header = c
        .post_form_raw_with("/language", &fields, &[("x-csrf-token", &token)])
        .await;
    assert_eq!(header.status, 303);

    // Forms are buffered for the check up to 64 KiB; more is refused.
    let big = "x".repeat(70 * 1024);
    let too_large = c
        .post_form(
            "/language",
            &[("lang", "en"), ("next", "/"), ("padding", &big)],
        )
        .await;
    assert_eq!(too_large.status, 413);
    assert!(
        too_large.is_html() && too_large.text.contains("Too much data"),
        "{too_large:?}"
    );

    let ok = c.post_form("/language", &fields).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location(), Some("/"));
    // The token stays the same for the browser: no new cookie is set.
    let again = c.get("/").await;
    assert_eq!(again.form_token().as_deref(), Some(token.as_str()));
    assert!(again
        .header_all("set-cookie")
        .iter()
        .all(|v| !v.starts_with("__Host-carfin-csrf=")));
}

// OPS-04: liveness, readiness, metrics from loopback that count requests.
#[tokio::test]
async fn ops04_health_readiness_and_metrics() {
    let t = spawn().await;
    let c = t.client();
    let health = c.get("/healthz").await;
    assert_eq!((health.status.as_u16(), health.text.as_str()), (200, "ok"));
    let ready = c.get("/readyz").await;
    assert_eq!(ready.status, 200);

    c.get("/brands/autovia").await;
    c.get("/brands/mobilio").await;
    c.get("/brands/nope").await;
    let metrics = c.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = &metrics.text;
    for line in [
        "carfin_http_requests_total{method=\"GET\",route=\"/brands/{slug}\",status=\"200\"} 2",
        "carfin_http_requests_total{method=\"GET\",route=\"/brands/{slug}\",status=\"404\"} 1",
        "carfin_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
        "carfin_http_request_duration_seconds_count{route=\"/brands/{slug}\"} 3",
        "carfin_build_info{version=\"",
        "process_start_time_seconds ",
        "# TYPE carfin_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("autovia"), "route patterns, never raw paths");

    // SECURITY 21: not through a proxy.
    let proxied = c
        .get_with("/metrics", &[("x-forwarded-for", "203.0.113.7")])
        .await;
    assert_eq!(proxied.status, 404);
    let forwarded = c
        .get_with("/metrics", &[("forwarded", "for=203.0.113.7")])
        .await;
    assert_eq!(forwarded.status, 404);
}

// OPS-04, SECURITY 21: with a token configured, /metrics needs it.
#[tokio::test]
async fn ops04_metrics_need_the_configured_token() {
    let t = TestApp::builder()
        .demo(Demo::Empty)
        .config(|c| c.metrics.token = Some(carfin_app::config::Secret::new("letmein-0123456789")))
        .spawn()
        .await;
    let c = t.client();
    assert_eq!(c.get("/metrics").await.status, 404);
    let wrong = c
        .get_with("/metrics", &[("authorization", "Bearer wrong-token")])
        .await;
    assert_eq!(wrong.status, 404);
    assert!(
        wrong.text.contains("Pagina niet gevonden"),
        "the same as an unknown page"
    );
    let right = c
        .get_with(
            "/metrics",
            &[("authorization", "Bearer letmein-0123456789")],
        )
        .await;
    assert_eq!(right.status, 200);
    assert!(right.text.contains("carfin_http_requests_total"));
}

// OPS-04, SECURITY 11: one log event per request with the request id and
// the route pattern; no query strings, paths, cookies or form values.
#[tokio::test]
async fn ops04_logs_carry_request_ids_and_no_personal_data() {
    let logs = LogCapture::start();
    let t = spawn().await;
    let c = t.client();
    let page = c
        .get("/brands/autovia?email=jan.jansen%40example.com&phone=0612345678")
        .await;
    assert_eq!(page.status, 200);
    let refused = c
        .post_form_raw(
            "/language",
            &[
                ("lang", "fr"),
                ("next", "/secret-path-value"),
                ("csrf_token", "guess"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    let id = page.request_id().unwrap().to_string();
    let refused_id = refused.request_id().unwrap().to_string();
    drop(t);

    let text = logs.contents();
    let request_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"message\":\"request\""))
        .collect();
    let line = request_lines
        .iter()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no event for {id}:\n{text}"));
    for field in [
        "\"route\":\"/brands/{slug}\"",
        "\"method\":\"GET\"",
        "\"status\":200",
        "\"latency_ms\":",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(request_lines
        .iter()
        .any(|l| l.contains(&refused_id) && l.contains("\"status\":403")));
    assert!(text.contains("csrf check failed"), "the refusal is logged");
    for secret in [
        "jan.jansen",
        "example.com",
        "0612345678",
        "email=",
        "autovia",
        "secret-path-value",
        "guess",
        "__Host-carfin-csrf",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the logs:\n{text}"
        );
    }
}

// OPS-05: shutting down stops the server; the app closes cleanly.
#[tokio::test]
async fn ops05_cleanup_stops_the_server() {
    let t = TestApp::builder().demo(Demo::Empty).spawn().await;
    let address = t.address;
    assert_eq!(t.client().get("/healthz").await.status, 200);
    t.cleanup().await;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "still accepting"
    );
}

// OPS-04, PRV-03: a representative flow — demo install (sealing every
// customer), pages in three languages, a refused and an accepted form, an
// unknown page, the overdue job — logs at debug level, and none of the
// seeded personal values (names, e-mail addresses, phone numbers, IBANs,
// addresses) appears in the log output.
#[tokio::test]
async fn ops04_no_personal_data_in_logs_across_a_representative_flow() {
    use carfin_store::repo::customers::{self, Personal};
    use sqlx::Row;

    let logs = LogCapture::start_at(tracing::Level::DEBUG);
    let t = TestApp::spawn().await;
    let c = t.client();
    for lang in ["nl", "fr", "en"] {
        assert_eq!(c.get(&format!("/?lang={lang}")).await.status, 200);
        assert_eq!(c.get(&format!("/legal?lang={lang}")).await.status, 200);
    }
    assert_eq!(c.get("/brands/carfin-lease").await.status, 200);
    assert_eq!(c.get("/no-such-page").await.status, 404);
    assert_eq!(
        c.post_form_raw("/language", &[("lang", "en")]).await.status,
        403
    );
    let switched = c
        .post_form("/language", &[("lang", "fr"), ("next", "/legal")])
        .await;
    assert_eq!(switched.status, 303);
    // Sign-in, a wrong password, the security page, a registration and an
    // SMS code (ACC-*): the identity paths log no personal values either.
    let line = carfin_app::demo::login_lines(&t.app).await.unwrap();
    let email = line[0].split(' ').nth(2).unwrap().to_string();
    let registration: Vec<String> = line
        .iter()
        .find(|l| l.starts_with("demo registration:"))
        .unwrap()
        .split(' ')
        .skip(2)
        .map(String::from)
        .collect();
    c.get("/login").await;
    let wrong = c
        .post_form(
            "/login",
            &[("email", &email), ("password", "wrong password 123")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let ok = c
        .post_form(
            "/login",
            &[
                ("email", &email),
                ("password", carfin_app::demo::DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(c.get("/my/security").await.status, 200);
    let d = t.client();
    d.get("/register").await;
    let registered = d
        .post_form(
            "/register",
            &[
                ("holder", "person"),
                ("contract_number", &registration[0]),
                ("date_of_birth", &registration[1]),
                ("postcode", &registration[2]),
                ("email", "logged.never@example.test"),
                ("password", "a long enough passphrase 2026"),
                ("accept_terms", "on"),
            ],
        )
        .await;
    assert_eq!(registered.status, 200);
    carfin_app::outbox::deliver_due(&t.app).await.unwrap();
    let job = carfin_jobs::job("mark_overdue_invoices").unwrap();
    t.clock.advance(chrono::Duration::days(40));
    assert!(carfin_jobs::run_if_due(&t.app, job, "node-test")
        .await
        .unwrap());

    let ids: Vec<i64> = sqlx::query("SELECT id FROM customers")
        .fetch_all(t.app.db().reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    assert!(ids.len() >= 50);
    let mut values = Vec::new();
    for id in ids {
        let record = customers::get(t.app.db(), t.app.keys(), id)
            .await
            .unwrap()
            .unwrap();
        let Personal::Known(p) = record.personal else {
            panic!("customer {id} unreadable")
        };
        values.push(p.display_name());
        values.push(format!("{} {}", p.street, p.house_number));
        values.extend(p.email.clone());
        values.extend(p.phone.clone());
        values.extend(p.iban.clone());
        values.extend(p.date_of_birth.clone());
    }
    t.cleanup().await;
    let text = logs.contents();
    assert!(text.lines().count() > 20, "the flow was logged: {text}");
    values.push("logged.never@example.test".to_string());
    values.push("a long enough passphrase 2026".to_string());
    values.push(carfin_app::demo::DEMO_PASSWORD.to_string());
    for value in values {
        assert!(!text.contains(&value), "personal value found in the logs");
    }
}

#[path = "web/dev_outbox.rs"]
mod dev_outbox;

#[path = "web/identity.rs"]
mod identity;

#[path = "web/my_privacy.rs"]
mod my_privacy;

#[path = "web/portal.rs"]
mod portal;

#[path = "web/documents.rs"]
mod documents;

#[path = "web/payments.rs"]
mod payments;

#[path = "web/simulator.rs"]
mod simulator;

#[path = "web/staff_login.rs"]
mod staff_login;

#[path = "web/staff_sso.rs"]
mod staff_sso;

#[path = "web/staff_customers.rs"]
mod staff_customers;

#[path = "web/staff_queues.rs"]
mod staff_queues;

#[path = "web/staff_imports.rs"]
mod staff_imports;

#[path = "web/staff_review.rs"]
mod staff_review;

#[path = "web/staff_reconciliation.rs"]
mod staff_reconciliation;
