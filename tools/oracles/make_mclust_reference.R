# Reference numbers from R's mclust for emkit's model-selection tests.
# Run: Rscript tools/oracles/make_mclust_reference.R tests/oracles
# Writes tests/oracles/mclust_<data>.json (BIC tables with and without the default
# conjugate prior, the ICL table of the converged fits, the hierarchical partitions used to
# initialise EM, the chosen model)
# and the data sets that are not shipped with scikit-learn as CSV.
suppressMessages({library(mclust); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
data(diabetes)
sets <- list(faithful = as.matrix(faithful),
             iris = as.matrix(iris[, 1:4]),
             diabetes = as.matrix(diabetes[, -1]))
models <- c("EII","VII","EEI","VEI","EVI","VVI","EEE","VEE","EVE","VVE","EEV","VEV","EVV","VVV")
table_of <- function(b) {
  # mclust has no conjugate prior for VEE, EVE, VVE and EVV: those rows are NA there.
  lapply(models, function(r) if (r %in% colnames(b)) as.numeric(b[, r]) else rep(NA_real_, 9))
}
for (name in names(sets)) {
  X <- sets[[name]]
  if (name != "iris") write.csv(X, file.path(out, paste0("mclust_", name, ".csv")), row.names = FALSE)
  hcp <- hc(X, modelName = "VVV", use = "SVD")
  parts <- hclass(hcp, 1:9)
  b <- mclustBIC(X, G = 1:9, modelNames = models)
  fit <- Mclust(X, G = 1:9, x = b)
  # The same fits run to convergence (mclust's default stops EM at a relative change of
  # 1e-5, before the optimum): the table to compare a converged EM with.
  tight <- emControl(tol = c(1e-12, sqrt(.Machine$double.eps)))
  bt <- mclustBIC(X, G = 1:9, modelNames = models, control = tight)
  # ICL (mclust's: BIC plus twice the log posterior of each row's MAP class) of those fits.
  it <- mclustICL(X, G = 1:9, modelNames = models, control = tight)
  bp <- mclustBIC(X, G = 1:9, prior = priorControl())
  fitp <- Mclust(X, G = 1:9, x = bp)
  bpt <- mclustBIC(X, G = 1:9, prior = priorControl(), control = tight)
  res <- list(
    note = paste("mclust", as.character(packageVersion("mclust")),
                 "defaults (hc VVV on use='SVD'); BIC = 2 loglik - npar log n (higher is better);",
                 "NA where mclust gave no BIC; made by tools/oracles/make_mclust_reference.R"),
    models = models, G = 1:9, n = nrow(X),
    bic = setNames(table_of(b), models),
    bic_converged = setNames(table_of(bt), models),
    icl_converged = setNames(table_of(it), models),
    bic_prior = setNames(table_of(bp), models),
    bic_prior_converged = setNames(table_of(bpt), models),
    hc_partitions = lapply(1:9, function(g) unname(parts[, g])),
    best = list(model = fit$modelName, G = fit$G, bic = fit$bic, loglik = fit$loglik),
    best_prior = list(model = fitp$modelName, G = fitp$G, bic = fitp$bic, loglik = fitp$loglik)
  )
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, na = "null"),
             file.path(out, paste0("mclust_", name, ".json")))
  cat(name, fit$modelName, fit$G, fit$bic, "| prior:", fitp$modelName, fitp$G, "\n")
}
