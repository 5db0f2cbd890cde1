# Reference fits of R's flexmix for emkit's Poisson and (weighted) Bernoulli mixtures.
#
# Makes two small synthetic data sets (fixed seed), writes them to tests/oracles/ as CSV,
# fits them with flexmix (FLXMCmvpois; FLXMCmvbinary with integer replication weights) from
# many random starts with a tight tolerance, and writes the best fit of each to
# tests/oracles/flexmix_reference.json. Run from the repository root:
#
#     Rscript tools/oracles/make_flexmix_reference.R
#
# Needs R with the flexmix package (Debian: r-base-core r-cran-flexmix); the tests only read
# the files this script writes.
suppressPackageStartupMessages(library(flexmix))

out_dir <- file.path("tests", "oracles")
set.seed(20261201)

## Poisson: 400 rows, 3 counts, 3 components
n <- 400
z <- sample(1:3, n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
rates <- rbind(c(1.0, 6.0, 0.5), c(5.0, 2.0, 3.0), c(12.0, 9.0, 0.2))
pois <- sapply(1:3, function(j) rpois(n, rates[z, j]))
colnames(pois) <- paste0("x", 1:3)
write.csv(pois, file.path(out_dir, "flexmix_poisson.csv"), row.names = FALSE)

## Bernoulli: 300 distinct rows, 6 binary items, 2 components, replication weights 1..4
n <- 300
z <- sample(1:2, n, replace = TRUE, prob = c(0.6, 0.4))
probs <- rbind(c(0.9, 0.8, 0.7, 0.2, 0.1, 0.3), c(0.2, 0.3, 0.1, 0.8, 0.7, 0.9))
bern <- sapply(1:6, function(j) rbinom(n, 1, probs[z, j]))
colnames(bern) <- paste0("x", 1:6)
w <- sample(1:4, n, replace = TRUE)
write.csv(cbind(bern, weight = w), file.path(out_dir, "flexmix_bernoulli.csv"), row.names = FALSE)

ctrl <- list(iter.max = 20000, tolerance = 1e-14, minprior = 0, verbose = 0)

best_fit <- function(formula, data, k, model, weights = NULL, nrep = 40) {
  best <- NULL
  lls <- c()
  for (r in seq_len(nrep)) {
    fit <- if (is.null(weights)) {
      flexmix(formula, data = data, k = k, model = model, control = ctrl)
    } else {
      flexmix(formula, data = data, k = k, model = model, control = ctrl, weights = weights)
    }
    if (length(prior(fit)) != k) next
    ll <- as.numeric(logLik(fit))
    lls <- c(lls, ll)
    if (is.null(best) || ll > as.numeric(logLik(best))) best <- fit
  }
  list(fit = best, lls = lls)
}

fmt <- function(x) paste0("[", paste(sprintf("%.17g", x), collapse = ", "), "]")
fmt_rows <- function(m) paste0("[", paste(apply(m, 1, fmt), collapse = ", "), "]")

entry <- function(res, param_name, file, weighted) {
  fit <- res$fit
  ll <- as.numeric(logLik(fit))
  par <- t(parameters(fit))   # (K, d)
  sprintf(paste0(
    '{"data": "%s", "n_components": %d, "weighted": %s, "loglik": %.17g, ',
    '"weights": %s, "%s": %s, "n_iter": %d, "converged": %s, ',
    '"restarts": %d, "restarts_within_1e-6_of_max": %d}'),
    file, length(prior(fit)), weighted, ll, fmt(prior(fit)), param_name, fmt_rows(par),
    fit@iter, tolower(as.character(fit@converged)), length(res$lls),
    sum(res$lls > ll - 1e-6 * abs(ll)))
}

pdf <- as.data.frame(pois)
rp <- best_fit(as.matrix(pdf) ~ 1, pdf, 3, FLXMCmvpois())
bdf <- as.data.frame(bern)
rb <- best_fit(as.matrix(bdf) ~ 1, bdf, 2, FLXMCmvbinary(), weights = w)

json <- paste0(
  "{\n",
  ' "_about": "Best of many random starts of R flexmix ', as.character(packageVersion("flexmix")),
  ' (EM, tolerance 1e-14, minprior 0) on the synthetic data beside this file, made by ',
  'tools/oracles/make_flexmix_reference.R. loglik is flexmix logLik (total, with the ',
  'replication weights); weights are the prior class shares; rates (Poisson) and ',
  'probabilities (Bernoulli, P(x=1)) have shape (K, d).",\n',
  ' "poisson": ', entry(rp, "rates", "flexmix_poisson.csv", "false"), ",\n",
  ' "bernoulli_weighted": ', entry(rb, "probabilities", "flexmix_bernoulli.csv", "true"), "\n}\n")
writeLines(json, file.path(out_dir, "flexmix_reference.json"), sep = "")
cat(json)
