# Reference numbers of R's MGMM (McCaw et al.; exact EM for Gaussian mixtures with missing
# values, full covariances) for tests/test_missing_gaussian.py, written to
# tests/oracles/mgmm_reference.json. The tests only read the JSON; R is never needed to run
# them. Made with MGMM 1.0.1.1 and mvnfast 0.2.8 (R CMD INSTALL -l LIBRARY on checkouts of
# github:cran/mvnfast and github:cran/MGMM), R 4.2:
#   Rscript tools/oracles/make_mgmm_reference.R [LIBRARY]   (from the repository root)
# Data: 150 rows from two 3-D Gaussian clusters, 25% of the entries removed at random (no row
# empty). Both fits start from the same given parameters. MGMM adds no regularisation, so the
# tests fit with reg_covar=0. MGMM computes the responsibilities of its next iteration with
# the previous mixture proportions, so only its first iteration equals textbook EM; the
# converged fit (eps=1e-13) is the same maximum-likelihood fit.
args <- commandArgs(trailingOnly = TRUE)
if (length(args)) .libPaths(c(args[1], .libPaths()))
suppressMessages(library(MGMM))
set.seed(11)
n <- 150
z <- rbinom(n, 1, 0.4)
x <- cbind(rnorm(n, 3 * z, 1), rnorm(n, -2 * z, 1.3), rnorm(n, 0, 1))
x[, 2] <- x[, 2] + 0.6 * x[, 1]
miss <- matrix(runif(n * 3) < 0.25, n, 3)
for (i in which(rowSums(miss) == 3)) miss[i, 1] <- FALSE
x[miss] <- NA
init <- list(
  means = list(c(0.5, 0.5, 0.2), c(2.0, -1.0, -0.2)),
  covs = list(diag(3) * 1.5, diag(3) * 2.0),
  props = c(0.5, 0.5)
)
fit <- function(maxit, eps) {
  FitGMM(x, k = 2, init_means = init$means, init_covs = init$covs, init_props = init$props,
         maxit = maxit, eps = eps, report = FALSE)
}
one <- fit(1, -Inf)
conv <- fit(100000, 1e-13)
as_rows <- function(m) lapply(seq_len(nrow(m)), function(i) as.numeric(m[i, ]))
result <- function(f) list(
  weights = as.numeric(f@Proportions),
  means = lapply(f@Means, as.numeric),
  covariances = lapply(f@Covariances, as_rows),
  completed = as_rows(f@Completed)
)
out <- list(
  note = paste("MGMM", as.character(packageVersion("MGMM")), "FitGMM on the data below",
               "(null = missing) from the given initial parameters; see",
               "tools/oracles/make_mgmm_reference.R"),
  X = lapply(seq_len(n), function(i) { r <- x[i, ]; lapply(r, function(v) if (is.na(v)) NULL else v) }),
  init = list(weights = init$props, means = init$means, covariances = lapply(init$covs, as_rows)),
  one_iteration = result(one),
  converged = result(conv)
)
writeLines(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"),
           "tests/oracles/mgmm_reference.json")
