//! `convert_angle`, `convert_energy`, `convert_force`, `convert_length`, `convert_mass`,
//! `convert_speed`, `convert_temperature`, `convert_volume`: unit conversions with the
//! unit names and factors of the UnitsNet library that Kusto uses. Unit names match
//! case-insensitively; an unknown unit gives null.

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row};
use crate::val::Val;
use datafusion::common::Result;
use schema::KqlType;
use std::f64::consts::PI;

const US_GALLON: f64 = 3.785411784e-3;
const CUBIC_FOOT: f64 = 0.0283168466;
const BTU: f64 = 1055.05585262;
const EV: f64 = 1.602176565e-19;
const US_SURVEY_FOOT: f64 = 1200.0 / 3937.0;

/// Units as factors to the category's base unit.
static ANGLE: &[(&str, f64)] = &[
    ("Arcminute", 1.0 / 60.0),
    ("Arcsecond", 1.0 / 3600.0),
    ("Centiradian", 0.01 * 180.0 / PI),
    ("Deciradian", 0.1 * 180.0 / PI),
    ("Degree", 1.0),
    ("Gradian", 0.9),
    ("Microdegree", 1e-6),
    ("Microradian", 1e-6 * 180.0 / PI),
    ("Millidegree", 1e-3),
    ("Milliradian", 1e-3 * 180.0 / PI),
    ("Nanodegree", 1e-9),
    ("Nanoradian", 1e-9 * 180.0 / PI),
    ("NatoMil", 360.0 / 6400.0),
    ("Radian", 180.0 / PI),
    ("Revolution", 360.0),
];

static ENERGY: &[(&str, f64)] = &[
    ("BritishThermalUnit", BTU),
    ("Calorie", 4.184),
    ("DecathermEc", 1.05505585262e9),
    ("DecathermImperial", 1.05505585257348e9),
    ("DecathermUs", 1.054804e9),
    ("ElectronVolt", EV),
    ("Erg", 1e-7),
    ("FootPound", 1.355817948),
    ("GigabritishThermalUnit", BTU * 1e9),
    ("GigaelectronVolt", EV * 1e9),
    ("Gigajoule", 1e9),
    ("GigawattDay", 86400.0 * 1e9),
    ("GigawattHour", 3600.0 * 1e9),
    ("HorsepowerHour", 2.6845195377e6),
    ("Joule", 1.0),
    ("KilobritishThermalUnit", BTU * 1e3),
    ("Kilocalorie", 4184.0),
    ("KiloelectronVolt", EV * 1e3),
    ("Kilojoule", 1e3),
    ("KilowattDay", 86400.0 * 1e3),
    ("KilowattHour", 3600.0 * 1e3),
    ("MegabritishThermalUnit", BTU * 1e6),
    ("Megacalorie", 4.184e6),
    ("MegaelectronVolt", EV * 1e6),
    ("Megajoule", 1e6),
    ("MegawattDay", 86400.0 * 1e6),
    ("MegawattHour", 3600.0 * 1e6),
    ("Millijoule", 1e-3),
    ("TeraelectronVolt", EV * 1e12),
    ("TerawattDay", 86400.0 * 1e12),
    ("TerawattHour", 3600.0 * 1e12),
    ("ThermEc", 1.05505585262e8),
    ("ThermImperial", 1.05505585257348e8),
    ("ThermUs", 1.054804e8),
    ("WattDay", 86400.0),
    ("WattHour", 3600.0),
];

static FORCE: &[(&str, f64)] = &[
    ("Decanewton", 10.0),
    ("Dyn", 1e-5),
    ("KilogramForce", 9.80665),
    ("Kilonewton", 1e3),
    ("KiloPond", 9.80665),
    ("KilopoundForce", 4448.2216152605),
    ("Meganewton", 1e6),
    ("Micronewton", 1e-6),
    ("Millinewton", 1e-3),
    ("Newton", 1.0),
    ("OunceForce", 0.278_013_850_953_781_2),
    ("Poundal", 0.138254954376),
    ("PoundForce", 4.4482216152605),
    ("ShortTonForce", 8896.443230521),
    ("TonneForce", 9806.65),
];

static LENGTH: &[(&str, f64)] = &[
    ("Angstrom", 1e-10),
    ("AstronomicalUnit", 1.4959787070e11),
    ("Centimeter", 1e-2),
    ("Chain", 20.1168),
    ("DataMile", 1828.8),
    ("Decameter", 10.0),
    ("Decimeter", 0.1),
    ("DtpPica", 1.0 / 236.220472441),
    ("DtpPoint", 2.54e-2 / 72.0),
    ("Fathom", 1.8288),
    ("Foot", 0.3048),
    ("Hand", 0.1016),
    ("Hectometer", 100.0),
    ("Inch", 0.0254),
    ("KilolightYear", 9.46073047258e18),
    ("Kilometer", 1e3),
    ("Kiloparsec", 3.08567758128e19),
    ("LightYear", 9.46073047258e15),
    ("MegalightYear", 9.46073047258e21),
    ("Megaparsec", 3.08567758128e22),
    ("Meter", 1.0),
    ("Microinch", 2.54e-8),
    ("Micrometer", 1e-6),
    ("Mil", 2.54e-5),
    ("Mile", 1609.34),
    ("Millimeter", 1e-3),
    ("Nanometer", 1e-9),
    ("NauticalMile", 1852.0),
    ("Parsec", 3.08567758128e16),
    ("PrinterPica", 1.0 / 237.106301584),
    ("PrinterPoint", 2.54e-2 / 72.27),
    ("Shackle", 27.432),
    ("SolarRadius", 6.95510000e8),
    ("Twip", 1.0 / 56692.913385826),
    ("UsSurveyFoot", US_SURVEY_FOOT),
    ("Yard", 0.9144),
];

static MASS: &[(&str, f64)] = &[
    ("Centigram", 1e-5),
    ("Decagram", 1e-2),
    ("Decigram", 1e-4),
    ("EarthMass", 5.9722e24),
    ("Grain", 6.479891e-5),
    ("Gram", 1e-3),
    ("Hectogram", 0.1),
    ("Kilogram", 1.0),
    ("Kilopound", 453.59237),
    ("Kilotonne", 1e6),
    ("LongHundredweight", 50.80234544),
    ("LongTon", 1016.0469088),
    ("Megapound", 453592.37),
    ("Megatonne", 1e9),
    ("Microgram", 1e-9),
    ("Milligram", 1e-6),
    ("Nanogram", 1e-12),
    ("Ounce", 0.028349523125),
    ("Pound", 0.45359237),
    ("ShortHundredweight", 45.359237),
    ("ShortTon", 907.18474),
    ("Slug", 14.593903),
    ("SolarMass", 1.98947e30),
    ("Stone", 6.35029318),
    ("Tonne", 1000.0),
];

static SPEED: &[(&str, f64)] = &[
    ("CentimeterPerHour", 1e-2 / 3600.0),
    ("CentimeterPerMinute", 1e-2 / 60.0),
    ("CentimeterPerSecond", 1e-2),
    ("DecimeterPerMinute", 0.1 / 60.0),
    ("DecimeterPerSecond", 0.1),
    ("FootPerHour", 0.3048 / 3600.0),
    ("FootPerMinute", 0.3048 / 60.0),
    ("FootPerSecond", 0.3048),
    ("InchPerHour", 0.0254 / 3600.0),
    ("InchPerMinute", 0.0254 / 60.0),
    ("InchPerSecond", 0.0254),
    ("KilometerPerHour", 1000.0 / 3600.0),
    ("KilometerPerMinute", 1000.0 / 60.0),
    ("KilometerPerSecond", 1000.0),
    ("Knot", 1852.0 / 3600.0),
    ("MeterPerHour", 1.0 / 3600.0),
    ("MeterPerMinute", 1.0 / 60.0),
    ("MeterPerSecond", 1.0),
    ("MicrometerPerMinute", 1e-6 / 60.0),
    ("MicrometerPerSecond", 1e-6),
    ("MilePerHour", 0.44704),
    ("MillimeterPerHour", 1e-3 / 3600.0),
    ("MillimeterPerMinute", 1e-3 / 60.0),
    ("MillimeterPerSecond", 1e-3),
    ("NanometerPerMinute", 1e-9 / 60.0),
    ("NanometerPerSecond", 1e-9),
    ("UsSurveyFootPerHour", US_SURVEY_FOOT / 3600.0),
    ("UsSurveyFootPerMinute", US_SURVEY_FOOT / 60.0),
    ("UsSurveyFootPerSecond", US_SURVEY_FOOT),
    ("YardPerHour", 0.9144 / 3600.0),
    ("YardPerMinute", 0.9144 / 60.0),
    ("YardPerSecond", 0.9144),
];

static VOLUME: &[(&str, f64)] = &[
    ("AcreFoot", 1233.48183754752),
    ("AuTablespoon", 2e-5),
    ("BoardFoot", 2.3597372158e-3),
    ("Centiliter", 1e-5),
    ("CubicCentimeter", 1e-6),
    ("CubicDecimeter", 1e-3),
    ("CubicFoot", CUBIC_FOOT),
    ("CubicHectometer", 1e6),
    ("CubicInch", 1.6387064e-5),
    ("CubicKilometer", 1e9),
    ("CubicMeter", 1.0),
    ("CubicMicrometer", 1e-18),
    ("CubicMile", 4.16818182544058e9),
    ("CubicMillimeter", 1e-9),
    ("CubicYard", 0.764554858),
    ("Decaliter", 1e-2),
    ("DecausGallon", US_GALLON * 10.0),
    ("Deciliter", 1e-4),
    ("DeciusGallon", US_GALLON * 0.1),
    ("HectocubicFoot", CUBIC_FOOT * 100.0),
    ("HectocubicMeter", 100.0),
    ("Hectoliter", 0.1),
    ("HectousGallon", US_GALLON * 100.0),
    ("ImperialBeerBarrel", 0.16365924),
    ("ImperialGallon", 4.54609e-3),
    ("ImperialOunce", 2.841_306_249_996_29e-5),
    ("ImperialPint", 5.6826125e-4),
    ("KilocubicFoot", CUBIC_FOOT * 1e3),
    ("KilocubicMeter", 1e3),
    ("KiloimperialGallon", 4.54609),
    ("Kiloliter", 1.0),
    ("KilousGallon", US_GALLON * 1e3),
    ("Liter", 1e-3),
    ("MegacubicFoot", CUBIC_FOOT * 1e6),
    ("MegaimperialGallon", 4546.09),
    ("Megaliter", 1e3),
    ("MegausGallon", US_GALLON * 1e6),
    ("MetricCup", 2.5e-4),
    ("MetricTeaspoon", 0.5e-5),
    ("Microliter", 1e-9),
    ("Milliliter", 1e-6),
    ("OilBarrel", 0.158987294928),
    ("UkTablespoon", 1.5e-5),
    ("UsBeerBarrel", 0.1173477658),
    ("UsCustomaryCup", 2.365882365e-4),
    ("UsGallon", US_GALLON),
    ("UsLegalCup", 2.4e-4),
    ("UsOunce", 2.95735295625e-5),
    ("UsPint", 4.73176473e-4),
    ("UsQuart", 9.46352946e-4),
    ("UsTablespoon", 1.478676478125e-5),
    ("UsTeaspoon", 4.92892159375e-6),
];

fn factor(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    let u = unit.trim();
    table.iter().find(|(n, _)| n.eq_ignore_ascii_case(u)).map(|(_, f)| *f)
}

fn convert(a: &[Val], table: &[(&str, f64)]) -> Result<Val> {
    let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
        return Ok(Val::Null);
    };
    Ok(match (factor(table, &from), factor(table, &to)) {
        (Some(f), Some(t)) => Val::Real(x * f / t),
        _ => Val::Null,
    })
}

/// Angles, where `Tilt` is the sine of the angle rather than a linear unit.
fn convert_angle(a: &[Val]) -> Result<Val> {
    let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
        return Ok(Val::Null);
    };
    let degrees = if from.trim().eq_ignore_ascii_case("Tilt") {
        x.asin().to_degrees()
    } else {
        match factor(ANGLE, &from) {
            Some(f) => x * f,
            None => return Ok(Val::Null),
        }
    };
    Ok(if to.trim().eq_ignore_ascii_case("Tilt") {
        Val::Real(degrees.to_radians().sin())
    } else {
        match factor(ANGLE, &to) {
            Some(t) => Val::Real(degrees / t),
            None => Val::Null,
        }
    })
}

fn to_kelvin(x: f64, unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "degreecelsius" => x + 273.15,
        "degreedelisle" => 373.15 - x * 2.0 / 3.0,
        "degreefahrenheit" => (x + 459.67) * 5.0 / 9.0,
        "degreenewton" => x * 100.0 / 33.0 + 273.15,
        "degreerankine" => x * 5.0 / 9.0,
        "degreereaumur" => x * 5.0 / 4.0 + 273.15,
        "degreeroemer" => (x - 7.5) * 40.0 / 21.0 + 273.15,
        "kelvin" => x,
        "millidegreecelsius" => x / 1000.0 + 273.15,
        "solartemperature" => x * 5778.0,
        _ => return None,
    })
}

fn from_kelvin(k: f64, unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "degreecelsius" => k - 273.15,
        "degreedelisle" => (373.15 - k) * 3.0 / 2.0,
        "degreefahrenheit" => k * 9.0 / 5.0 - 459.67,
        "degreenewton" => (k - 273.15) * 33.0 / 100.0,
        "degreerankine" => k * 9.0 / 5.0,
        "degreereaumur" => (k - 273.15) * 4.0 / 5.0,
        "degreeroemer" => (k - 273.15) * 21.0 / 40.0 + 7.5,
        "kelvin" => k,
        "millidegreecelsius" => (k - 273.15) * 1000.0,
        "solartemperature" => k / 5778.0,
        _ => return None,
    })
}

const ARGS: &[Param] = &[p("value", P::Num), p("from", P::Str), p("to", P::Str)];

pub static DEFS: &[FnDef] = &[
    row("convert_angle", ARGS, 3, KqlType::Real, convert_angle),
    row("convert_energy", ARGS, 3, KqlType::Real, |a| convert(a, ENERGY)),
    row("convert_force", ARGS, 3, KqlType::Real, |a| convert(a, FORCE)),
    row("convert_length", ARGS, 3, KqlType::Real, |a| convert(a, LENGTH)),
    row("convert_mass", ARGS, 3, KqlType::Real, |a| convert(a, MASS)),
    row("convert_speed", ARGS, 3, KqlType::Real, |a| convert(a, SPEED)),
    row("convert_volume", ARGS, 3, KqlType::Real, |a| convert(a, VOLUME)),
    row("convert_temperature", ARGS, 3, KqlType::Real, |a| {
        let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
            return Ok(Val::Null);
        };
        Ok(to_kelvin(x, &from)
            .and_then(|k| from_kelvin(k, &to))
            .map(Val::Real)
            .unwrap_or(Val::Null))
    }),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    fn conv(f: &str, x: f64, a: &str, b: &str) -> f64 {
        call(f, vec![lit::real(x), lit::string(a), lit::string(b)])
            .parse()
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn documented_examples() {
        assert!((conv("convert_angle", 1.2, "Degree", "Arcminute") - 72.0).abs() < 1e-9);
        assert!((conv("convert_energy", 1.2, "Joule", "BritishThermalUnit") - 0.00113738054437598).abs() < 1e-15);
        assert!((conv("convert_temperature", 1.2, "Kelvin", "DegreeCelsius") + 271.95).abs() < 1e-9);
        assert!((conv("convert_temperature", 212.0, "DegreeFahrenheit", "DegreeCelsius") - 100.0).abs() < 1e-9);
        assert!((conv("convert_length", 1.0, "Mile", "Kilometer") - 1.60934).abs() < 1e-9);
        assert!((conv("convert_mass", 1.0, "pound", "gram") - 453.59237).abs() < 1e-9);
        assert!((conv("convert_speed", 36.0, "KilometerPerHour", "MeterPerSecond") - 10.0).abs() < 1e-9);
        assert!((conv("convert_volume", 1.0, "UsGallon", "Liter") - 3.785411784).abs() < 1e-9);
        assert!((conv("convert_force", 1.0, "KilogramForce", "Newton") - 9.80665).abs() < 1e-9);
        assert!((conv("convert_angle", 30.0, "Degree", "Tilt") - 0.5).abs() < 1e-9);
        assert_eq!(
            call(
                "convert_length",
                vec![lit::real(1.0), lit::string("Furlong"), lit::string("Meter")]
            ),
            ""
        );
    }
}
